package pii

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/custos-dev/custos"
)

// ErrEmpty is returned by Normalize for a value with nothing left after
// folding and trimming.
var ErrEmpty = errors.New("empty value")

// chineseDigits maps Chinese numerals insiders use to spell out phone and
// ID digits (一三八…) to ASCII digits.
var chineseDigits = map[rune]rune{
	'〇': '0', '零': '0', '一': '1', '二': '2', '三': '3', '四': '4',
	'五': '5', '六': '6', '七': '7', '八': '8', '九': '9',
	'壹': '1', '贰': '2', '叁': '3', '肆': '4', '伍': '5', '陆': '6',
	'柒': '7', '捌': '8', '玖': '9', '幺': '1', '两': '2',
}

// numericTypes are identifier types made of digits (and, for cn_id, a
// final X): separators of any kind are dropped when normalizing them.
var numericTypes = map[custos.DataType]bool{
	custos.TypeCNID: true, custos.TypeCNMobile: true, custos.TypeCNLandline: true,
	custos.TypeBankCard: true, custos.TypeIMEI: true, custos.TypeUSSSN: true,
	custos.TypeIntlPhone: true,
}

// upperTypes are alphanumeric codes compared case-insensitively.
var upperTypes = map[custos.DataType]bool{
	custos.TypeCNUSCC: true, custos.TypeCNPassport: true, custos.TypeCNPlate: true,
	custos.TypeHKID: true, custos.TypeTWID: true, custos.TypeHKMOPermit: true,
	custos.TypeFlightPNR: true, custos.TypeIBAN: true,
}

// Normalize returns the canonical form of an identifier of type t, the form
// the blind index hashes: "１３８ 0013-8000" and "+86 13800138000" are the
// same cn_mobile. Types outside the vocabulary get Unicode NFKC folding and
// trimmed, collapsed white space. Errors never contain the value.
func Normalize(t custos.DataType, v string) (string, error) {
	v = norm.NFKC.String(v)
	var out string
	switch {
	case numericTypes[t]:
		out = digitsOnly(v, t == custos.TypeCNID)
	case upperTypes[t]:
		out = strings.ToUpper(strings.Join(strings.FieldsFunc(v, isSeparator), ""))
	case t == custos.TypeEmail:
		out = strings.ToLower(strings.TrimSpace(v))
	case t == custos.TypeIPv4 || t == custos.TypeIPv6:
		out = strings.ToLower(strings.TrimSpace(v))
	default:
		out = strings.Join(strings.Fields(v), " ")
	}
	if out == "" {
		return "", fmt.Errorf("normalize %s: %w", t, ErrEmpty)
	}
	switch t {
	case custos.TypeCNID:
		if n := len(out); n != 18 && n != 15 {
			return "", fmt.Errorf("normalize %s: want 18 or 15 characters, got %d", t, n)
		}
	case custos.TypeCNMobile:
		out = stripCountryCode(out)
		if len(out) != 11 || out[0] != '1' {
			return "", fmt.Errorf("normalize %s: want 11 digits starting with 1 (optionally +86), got %d digits", t, len(out))
		}
	}
	return out, nil
}

// digitsOnly keeps ASCII digits (after mapping Chinese numerals) and, when
// allowX, an x or X upper-cased. A leading + is kept so that intl_phone
// can tell an explicit country code.
func digitsOnly(v string, allowX bool) string {
	var b strings.Builder
	b.Grow(len(v))
	for i, r := range v {
		if r >= 0x80 {
			if d, ok := chineseDigits[r]; ok {
				r = d
			}
		}
		switch {
		case '0' <= r && r <= '9':
			b.WriteRune(r)
		case allowX && (r == 'x' || r == 'X'):
			b.WriteByte('X')
		case r == '+' && i == 0:
			b.WriteByte('+')
		}
	}
	return b.String()
}

// stripCountryCode turns +8613800138000, 008613800138000 and 8613800138000
// into 13800138000.
func stripCountryCode(d string) string {
	d = strings.TrimPrefix(d, "+")
	for _, p := range []string{"0086", "86"} {
		if len(d) == len(p)+11 && strings.HasPrefix(d, p) {
			return d[len(p):]
		}
	}
	return d
}

func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '.' || r == '·' || r == '(' || r == ')'
}
