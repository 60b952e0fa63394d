package mask

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrNoGeneralization is returned for a value that the generalization of
// its type cannot read, or a type without one. It never wraps the value.
var ErrNoGeneralization = errors.New("mask: value cannot be generalized")

// dateLayouts are the birth-date forms found in Chinese business systems.
var dateLayouts = []string{"2006-01-02", "2006/01/02", "20060102", "2006-1-2", "2006/1/2", "2006.01.02", "2006.1.2", "2006年1月2日", "2006年01月02日"}

// ParseBirthDate reads a birth date in the usual layouts, or the birth date
// inside an 18-digit resident ID number.
func ParseBirthDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if len(v) == 18 && isDigits(v[:17]) {
		v = v[6:14]
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			if t.Year() < 1880 || t.Year() > 2200 {
				break
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("birth date: %w", ErrNoGeneralization)
}

// BirthYear generalizes a birth date to its year: 1990-03-07 → "1990".
func BirthYear(v string) (string, error) {
	t, err := ParseBirthDate(v)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(t.Year()), nil
}

// Age returns the age in whole years on day now of a person born on birth.
func Age(birth, now time.Time) int {
	age := now.Year() - birth.Year()
	if now.Month() < birth.Month() || now.Month() == birth.Month() && now.Day() < birth.Day() {
		age--
	}
	return max(age, 0)
}

// AgeBand generalizes a birth date to an age band of width years on day
// now: with width 10, 1990-03-07 on 2026-11-29 → "30-39". Anyone under 14,
// PIPL's minors, is "0-13" whatever the width, so that bands never blur
// the line the law draws.
func AgeBand(v string, now time.Time, width int) (string, error) {
	if width <= 0 {
		width = 10
	}
	t, err := ParseBirthDate(v)
	if err != nil {
		return "", err
	}
	age := Age(t, now)
	if age < 14 {
		return "0-13", nil
	}
	lo := age / width * width
	lo = max(lo, 14)
	hi := (age/width+1)*width - 1
	return fmt.Sprintf("%d-%d", lo, hi), nil
}

// GeoGrid generalizes a "lat,lon" coordinate to the centre of its grid cell
// of cell degrees (0.01° is about 1.1 km of latitude): every point in a
// cell gives the same answer, so the grid hides where in it a person was.
func GeoGrid(v string, cell float64) (string, error) {
	if cell <= 0 || cell > 10 {
		return "", fmt.Errorf("geo grid: cell %g degrees outside (0, 10]", cell)
	}
	latS, lonS, ok := strings.Cut(v, ",")
	if !ok {
		return "", fmt.Errorf("geo grid: want lat,lon: %w", ErrNoGeneralization)
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(latS), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(lonS), 64)
	if err1 != nil || err2 != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return "", fmt.Errorf("geo grid: want lat,lon in degrees: %w", ErrNoGeneralization)
	}
	snap := func(x float64) float64 { return math.Floor(x/cell)*cell + cell/2 }
	prec := max(0, int(math.Ceil(-math.Log10(cell)))+1)
	return strconv.FormatFloat(snap(lat), 'f', prec, 64) + "," + strconv.FormatFloat(snap(lon), 'f', prec, 64), nil
}

// AddressDistrict generalizes a Chinese address to its administrative
// prefix down to district level, without stars: 北京市海淀区中关村大街1号 →
// 北京市海淀区.
func AddressDistrict(v string) (string, error) {
	n := AddressPrefixLen(v)
	if n == 0 {
		return "", fmt.Errorf("address: %w", ErrNoGeneralization)
	}
	return v[:n], nil
}

// IDRegion generalizes a resident ID number to its six-digit region code
// (the county where it was issued): 110101199003071234 → 110101.
func IDRegion(v string) (string, error) {
	v = strings.TrimSpace(v)
	if (len(v) != 18 && len(v) != 15) || !isDigits(v[:6]) {
		return "", fmt.Errorf("cn_id region: %w", ErrNoGeneralization)
	}
	return v[:6], nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
