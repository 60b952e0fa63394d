package pii

import (
	_ "embed"
	"strings"
	"unicode/utf8"
)

// The dictionaries — surnames, labels, divisions, context words — are in
// simplified characters; documents from Taiwan and Hong Kong are written
// in traditional ones (客戶姓名：張偉, 臺北市信義區). The detectors fold
// traditional characters to simplified ones only where a candidate is
// tested against a dictionary, never over the whole text, so that
// simplified and ASCII text pay nothing for it:
//   - the first pass's tables (anchors, wordsAt, pairBits) carry each
//     traditional character with the flags and words of its simplified
//     one, so a traditional label or division starts a candidate;
//   - prefixAt and the name tests compare the candidate's characters
//     folded when the exact comparison fails and a traditional character
//     is there;
//   - context words are indexed in their traditional forms too.
// Each pair folds to a character of the same UTF-8 length, so offsets
// and reported values stay as written.

//go:embed data/tradsimp.txt
var tradSimpData string

// foldTab[t] is the simplified character for the traditional t, 0 for
// every other character; tradForms the inverse (钟: 鍾 鐘).
var foldTab, tradForms = parseTradSimp(tradSimpData)

// parseTradSimp reads the pairs: a traditional and a simplified character
// a word, lines starting with # left out.
func parseTradSimp(data string) (*[0x10000]uint16, map[rune][]rune) {
	var t [0x10000]uint16
	inv := make(map[rune][]rune)
	for _, line := range strings.Split(data, "\n") {
		if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
			continue
		}
		for _, w := range strings.Fields(line) {
			tr, n := utf8.DecodeRuneInString(w)
			si, k := utf8.DecodeRuneInString(w[n:])
			if n != 3 || k != 3 || n+k != len(w) || tr > 0xFFFF || si > 0xFFFF {
				panic("pii: data/tradsimp.txt: not a pair of 3-byte characters: " + w)
			}
			if t[tr] == 0 {
				t[tr] = uint16(si)
				inv[si] = append(inv[si], tr)
			}
		}
	}
	for si := range inv {
		if t[si] != 0 {
			panic("pii: data/tradsimp.txt: " + string(si) + " is both simplified and traditional")
		}
	}
	return &t, inv
}

// fold returns the simplified character for a traditional r, r otherwise.
func fold(r rune) rune {
	if r >= 0 && r < 0x10000 {
		if s := foldTab[r]; s != 0 {
			return rune(s)
		}
	}
	return r
}

// Simplified returns the simplified form of the traditional character r
// as the detectors' dictionaries spell it, or r when the table has no
// pair for it. The result has the same UTF-8 length as r.
func Simplified(r rune) rune { return fold(r) }

// TradSimpPairs returns the table's pairs, traditional to simplified.
func TradSimpPairs() map[rune]rune {
	m := make(map[rune]rune, len(tradForms)*2)
	for si, trs := range tradForms {
		for _, tr := range trs {
			m[tr] = si
		}
	}
	return m
}

// tradAt reports whether one of the Han characters in text[i:i+l] has a
// traditional form in the table: only then can a folded comparison
// succeed where the exact one failed.
func tradAt(text []byte, i, l int) bool {
	e := min(len(text), i+l)
	for k := i; k < e; k += 3 {
		r := decode3(text, k)
		if r == 0 {
			return false
		}
		if foldTab[r] != 0 {
			return true
		}
	}
	return false
}

// eqFold reports whether text[i:] starts with w once its traditional
// characters are folded. w is Han text (3-byte characters).
func eqFold(text []byte, i int, w string) bool {
	if len(text)-i < len(w) {
		return false
	}
	for k := 0; k < len(w); k += 3 {
		if text[i+k] == w[k] && text[i+k+1] == w[k+1] && text[i+k+2] == w[k+2] {
			continue
		}
		r := decode3(text, i+k)
		if r == 0 || foldTab[r] == 0 {
			return false
		}
		wr, _ := utf8.DecodeRuneInString(w[k:])
		if rune(foldTab[r]) != wr {
			return false
		}
	}
	return true
}

// variants returns w and its spellings with traditional characters: each
// character that has traditional forms may be written in any of them
// (mixed text such as 身份證 is common). Used on the static word lists
// at start-up.
func variants(w string) []string {
	out := []string{""}
	for _, r := range w {
		forms := append([]rune{r}, tradForms[r]...)
		next := make([]string, 0, len(out)*len(forms))
		for _, p := range out {
			for _, f := range forms {
				next = append(next, p+string(f))
			}
		}
		out = next
	}
	return out
}

// isNameWord reports whether the characters a and b, folded, are one of
// nameWords.
func isNameWord(a, b rune) bool {
	var k [6]byte
	utf8.EncodeRune(k[:3], fold(a))
	utf8.EncodeRune(k[3:], fold(b))
	return nameWordSet[string(k[:])]
}
