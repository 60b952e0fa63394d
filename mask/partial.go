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
//
// Types without a convention keep their first and last quarter at most.
// The result never reveals more characters than the convention keeps.
func Partial(t custos.DataType, v string) string {
	switch t {
	case custos.TypeCNMobile:
		return keepDigits(v, 3, 4)
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
		head, tail = 0, min(tail, total/2)
	}
	var b strings.Builder
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
	rs := []rune(v)
	for i := range rs {
		if i >= head && i < len(rs)-tail {
			rs[i] = '*'
		}
	}
	return string(rs)
}

func maskEmail(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		return keepRunes(v, 1, 0)
	}
	return keepRunes(v[:at], 1, 0) + v[at:]
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
