package scan

import (
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

// MinorAge is the age under which PIPL Art. 28 makes a person's
// information sensitive as a whole.
const MinorAge = 14

// MinorByID reports whether the resident ID number v (any form the
// detectors accept: separators, full-width or Chinese digits) belongs to
// someone younger than MinorAge at now, by the birth date it encodes.
func MinorByID(v string, now time.Time) bool {
	d, err := pii.Normalize(custos.TypeCNID, v)
	if err != nil {
		return false
	}
	var y, m, day int
	switch len(d) {
	case 18:
		y, m, day = atoi(d[6:10]), atoi(d[10:12]), atoi(d[12:14])
	case 15:
		y, m, day = 1900+atoi(d[6:8]), atoi(d[8:10]), atoi(d[10:12])
	default:
		return false
	}
	birth := time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
	return birth.AddDate(MinorAge, 0, 0).After(now) && !birth.After(now)
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
