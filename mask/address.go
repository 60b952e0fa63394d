package mask

import (
	"strings"
	"unicode/utf8"
)

// Administrative suffixes of Chinese addresses, by level. An address is
// kept down to the district (区/县/县级市/旗) and starred after it, which is
// the usual display convention: it says roughly where a person lives
// without saying where to find them.
var (
	provinceSuffixes = []string{"特别行政区", "自治区", "省"}
	municipalities   = []string{"北京市", "上海市", "天津市", "重庆市", "北京", "上海", "天津", "重庆"}
	citySuffixes     = []string{"自治州", "地区", "盟", "市"}
	districtSuffixes = []string{"区", "县", "旗", "市"}
)

// maxComponentRunes bounds how far a level's suffix is searched for, so that
// a 区 deep in a street name is not taken for a district.
const maxComponentRunes = 12

// maskAddress keeps the administrative prefix of a Chinese address down to
// the district and stars every later rune, keeping the length. An address
// with no recognisable district keeps its city; one with neither keeps
// its first quarter only.
func maskAddress(v string) string {
	keep := AddressPrefixLen(v)
	if keep == 0 || keep == len(v) {
		// Nothing below the district to star: fall back to the generic
		// mask so that the whole value is never shown.
		n := utf8.RuneCountInString(v)
		return keepRunes(v, n/4, 0)
	}
	var b strings.Builder
	b.Grow(len(v))
	b.WriteString(v[:keep])
	for range v[keep:] {
		b.WriteByte('*')
	}
	return b.String()
}

// AddressPrefixLen returns the length in bytes of the administrative prefix
// of a Chinese address down to district level (广东省深圳市南山区 in
// 广东省深圳市南山区科技园…), down to city level when there is no district,
// or 0 when neither is found.
func AddressPrefixLen(v string) int {
	pos := 0
	municipality := false
	for _, m := range municipalities {
		if strings.HasPrefix(v, m) {
			pos, municipality = len(m), true
			break
		}
	}
	if !municipality {
		if end := component(v, 0, provinceSuffixes); end > 0 {
			pos = end
		}
	}
	city := 0
	if !municipality {
		// A district that ends before any city suffix means the address
		// has no city level (海淀区中关村市场 must not yield a 市).
		c := component(v, pos, citySuffixes)
		d := component(v, pos, districtSuffixes)
		if c > 0 && (d == 0 || c <= d) {
			city, pos = c, c
		}
	}
	district := component(v, pos, districtSuffixes)
	switch {
	case district > 0:
		return district
	case city > 0:
		return city
	case municipality:
		return pos
	}
	return 0
}

// component finds the earliest suffix from suffixes that ends a component
// of at least two runes starting at byte offset from, within
// maxComponentRunes runes, and returns the byte offset just after it.
func component(v string, from int, suffixes []string) int {
	rest := v[from:]
	runes := 0
	for i := range rest {
		if runes >= maxComponentRunes {
			break
		}
		runes++
		if runes < 2 {
			continue
		}
		for _, s := range suffixes {
			if strings.HasPrefix(rest[i:], s) {
				return from + i + len(s)
			}
		}
	}
	return 0
}
