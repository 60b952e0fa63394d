package mask

import (
	"strings"
	"unicode/utf8"

	"github.com/custos-dev/custos"
)

// Partial masks v by the display convention for its type, keeping the
// length and the separators so that the result still looks like its type:
//
//	cn_mobile  13812345678        → 138****5678
//	cn_id      110101199003071234 → 110101********1234
//	bank_card  6222021234567890   → ************7890
//	email      zhang.san@x.com    → z********@x.com
//	cn_name    张三明             → 张*明
//	cn_address 北京市海淀区中关村大街1号 → 北京市海淀区*******
//	date_of_birth 1990-03-07      → 1990-**-**
//	ipv4       10.1.200.3         → 10.1.***.*
//
// Types without a convention keep their first and last quarter at most.
// The result never reveals more characters than the convention keeps.
func Partial(t custos.DataType, v string) string {
	if v == "" {
		return ""
	}
	switch t {
	case custos.TypeCNLandline:
		return keepDigits(v, 3, 2)
	case custos.TypeCNAddress:
		return maskAddress(v)
	case custos.TypeDateOfBirth:
		return maskDate(v)
	case custos.TypeIPv4:
		return maskIPv4(v)
	case custos.TypeCNMobile:
		return keepDigits(v, 3+countryCodeDigits(v), 4)
	case custos.TypeCNID:
		return keepDigits(v, 6, 4)
	case custos.TypeBankCard, custos.TypeIBAN:
		return keepDigits(v, 0, 4)
	case custos.TypeEmail:
		return maskEmail(v)
	case custos.TypeCNName:
		return maskName(v)
	default:
		n := utf8.RuneCountInString(v)
		return keepRunes(v, n/4, n/4)
	}
}

// keepDigits keeps the first head and last tail alphanumerics of v and
// stars the rest, leaving separators (spaces, dashes, +) where they are.
func keepDigits(v string, head, tail int) string {
	total := 0
	for _, r := range v {
		if isAlnum(r) {
			total++
		}
	}
	if head+tail >= total {
		// Too short for the convention: show at most the last quarter so a
		// truncated value is never shown whole.
		head, tail = 0, min(tail, total/4)
	}
	var b strings.Builder
	b.Grow(len(v))
	i := 0
	for _, r := range v {
		if !isAlnum(r) {
			b.WriteRune(r)
			continue
		}
		if i < head || i >= total-tail {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}

// keepRunes keeps the first head and last tail runes and stars the rest.
func keepRunes(v string, head, tail int) string {
	n := utf8.RuneCountInString(v)
	if head+tail >= n {
		head, tail = min(head, (n-1)/2), 0
	}
	var b strings.Builder
	b.Grow(len(v))
	i := 0
	for _, r := range v {
		if i >= head && i < n-tail {
			b.WriteByte('*')
		} else {
			b.WriteRune(r) // U+FFFD for a byte that is not UTF-8, as before
		}
		i++
	}
	return b.String()
}

// maskIPv4 keeps the first two octets (the network, which is rarely
// personal) and stars every digit of the host part, keeping the length:
// 10.1.200.3 → 10.1.***.*.
func maskIPv4(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return keepDigits(v, 0, 0)
	}
	for i := 2; i < 4; i++ {
		parts[i] = strings.Repeat("*", utf8.RuneCountInString(parts[i]))
	}
	return strings.Join(parts, ".")
}

func maskEmail(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		at = len(v)
	}
	local := v[:at]
	head := 1
	if utf8.RuneCountInString(local) < 3 {
		head = 0 // a first letter of two would be half the name
	}
	return keepRunes(local, head, 0) + v[at:]
}

// maskName follows the usual convention: 张三 → 张*, 张三明 → 张*明,
// 欧阳娜娜 → 欧**娜.
func maskName(v string) string {
	n := utf8.RuneCountInString(v)
	if n <= 2 {
		return keepRunes(v, 1, 0)
	}
	return keepRunes(v, 1, 1)
}

func isAlnum(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r > utf8.RuneSelf
}

// maskDate keeps the year (the first four ASCII digits) and the date
// separators and stars everything else: 1990年3月7日 → 1990年*月*日.
func maskDate(v string) string {
	var b strings.Builder
	keep, digits := 4, 0
	for i := 0; i < len(v); i++ {
		if '0' <= v[i] && v[i] <= '9' {
			digits++
		}
	}
	if digits < 6 {
		keep = 0 // not a full date: a bare year or less is all there is
	}
	seen := 0
	for _, r := range v {
		switch {
		case '0' <= r && r <= '9':
			if seen < keep {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
			seen++
		case r == '-' || r == '/' || r == '.' || r == ' ' || r == '年' || r == '月' || r == '日':
			b.WriteRune(r)
		default:
			b.WriteByte('*')
		}
	}
	return b.String()
}

// countryCodeDigits returns how many leading digits of a mobile number are
// the Chinese country code (86 or 0086), so that +86 138****5678 keeps the
// same three digits of the number itself as 138****5678.
func countryCodeDigits(v string) int {
	d := make([]byte, 0, 16)
	for i := 0; i < len(v) && len(d) < 16; i++ {
		if '0' <= v[i] && v[i] <= '9' {
			d = append(d, v[i])
		}
	}
	s := string(d)
	switch {
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		return 2
	case len(s) == 15 && strings.HasPrefix(s, "0086"):
		return 4
	}
	return 0
}
