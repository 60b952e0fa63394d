package scan

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// The detectors' dictionaries — surnames, name labels, divisions — are in
// simplified characters. Text decoded from Big5 is in traditional ones,
// so the decoder hands the detectors a folded copy (張偉 reads as 张伟,
// 客戶姓名 as 客户姓名, 臺北市 as 台北市) and keeps the characters as
// written for the values it reports. Each pair folds to a character of
// the same UTF-8 length, so one offset map serves both.

//go:embed data/tradsimp.txt
var tradSimpData string

// parseTradSimp reads the pairs: a traditional and a simplified
// character a word, lines starting with # left out.
func parseTradSimp(data string) map[rune]rune {
	m := make(map[rune]rune)
	for _, line := range strings.Split(data, "\n") {
		if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
			continue
		}
		for _, w := range strings.Fields(line) {
			t, n := utf8.DecodeRuneInString(w)
			s, k := utf8.DecodeRuneInString(w[n:])
			if n+k != len(w) || utf8.RuneLen(t) != utf8.RuneLen(s) {
				panic("scan: data/tradsimp.txt: not a pair of characters of one length: " + w)
			}
			m[t] = s
		}
	}
	return m
}

// big5Folded is big5TwoByte with traditional characters folded.
var big5Folded = sync.OnceValue(func() []rune {
	fold := parseTradSimp(tradSimpData)
	t := append([]rune(nil), big5TwoByte()...)
	for i, r := range t {
		if s, ok := fold[r]; ok {
			t[i] = s
		}
	}
	return t
})
