package scan

import (
	"sync"

	"github.com/custos-dev/custos/pii"
)

// The detectors' dictionaries — surnames, name labels, divisions — are in
// simplified characters. Text decoded from Big5 is in traditional ones,
// so the decoder hands the detectors a folded copy (張偉 reads as 张伟,
// 客戶姓名 as 客户姓名, 臺北市 as 台北市) and keeps the characters as
// written for the values it reports. The table is pii's (pii.Simplified,
// pii/data/tradsimp.txt), which folds traditional UTF-8 text the same way
// on candidates; each pair folds to a character of the same UTF-8 length,
// so one offset map serves both. Folding all of a Big5 text here costs
// nothing extra: the decoder maps every character anyway.

// big5Folded is big5TwoByte with traditional characters folded.
var big5Folded = sync.OnceValue(func() []rune {
	t := append([]rune(nil), big5TwoByte()...)
	for i, r := range t {
		t[i] = pii.Simplified(r)
	}
	return t
})
