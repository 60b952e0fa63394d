package pii

import (
	"sort"
	"strings"

	"github.com/custos-dev/custos"
)

// Classify says what a single value is — a database cell, a JSON string,
// a form field — when the whole value (surrounding white space aside) is
// one identifier. It returns the matches that span the whole value, best
// first; nil when the value is not, as a whole, personal data of a known
// type. Values that need context in running text are judged by shape
// alone here: a cell holding "张伟" is a cn_name at confidence 0.6,
// because the column, not the value, carries the context (see
// ColumnHint). Dates, PNRs and bare 9-digit numbers are too ambiguous
// without a column name and are not reported; use Valid for them.
func Classify(value string) []Match {
	v := strings.TrimSpace(value)
	if v == "" || len(v) > MaxMatchLen {
		return nil
	}
	lead := strings.Index(value, v)
	var d Detector
	var buf [4]Match
	var out []Match
	for _, m := range d.AppendMatches(buf[:0], []byte(v)) {
		if m.Offset == 0 && m.Length == len(v) {
			m.Offset = lead
			out = append(out, m)
		}
	}
	if out == nil && nameShape([]byte(v)) && allHan(v) {
		out = append(out, Match{Type: custos.TypeCNName, Offset: lead, Length: len(v), Confidence: 0.6})
	}
	return out
}

func allHan(s string) bool {
	for _, r := range s {
		if !isHan(r) {
			return false
		}
	}
	return s != ""
}

// Valid reports whether v, as a whole, is a well-formed value of type t:
// checksums, ranges and structure as the detectors check them, without
// asking for context. For types without a checksum (cn_name, flight_pnr,
// date_of_birth, cn_address) it checks the shape only.
func Valid(t custos.DataType, v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > MaxMatchLen {
		return false
	}
	b := []byte(v)
	switch t {
	case custos.TypeCNName:
		return allHan(v) && nameShape(b)
	case custos.TypeFlightPNR:
		return len(b) == 6 && upperAlnum(b) && hasUpper(b)
	case custos.TypeDateOfBirth:
		if len(b) == 8 && allDigits(b) {
			y := atoi(b[:4])
			return y >= 1900 && y <= 2099 && validDate(y, atoi(b[4:6]), atoi(b[6:]))
		}
		if len(b) < 8 || !allDigits(b[:4]) {
			return false
		}
		_, end, ok := dateAt(b, 0)
		return ok && end == len(b)
	case custos.TypeCNAddress:
		e, ok := addressAt(b, 0)
		return ok && e == len(b)
	case custos.TypeUSSSN, custos.TypeIMEI, custos.TypeCNID, custos.TypeCNMobile, custos.TypeBankCard,
		custos.TypeCNLandline, custos.TypeIntlPhone, custos.TypeCNUSCC, custos.TypeHKID, custos.TypeTWID,
		custos.TypeIBAN:
		if !writtenAs(t, v) {
			return false
		}
		n, err := Normalize(t, v)
		if err != nil {
			return false
		}
		return validNormalized(t, []byte(n))
	}
	for _, m := range Classify(v) {
		if m.Type == t {
			return true
		}
	}
	return false
}

// columnHints maps words found in column and field names to the type
// they usually hold. Matching is on the lower-cased name split at '_',
// '-', '.' and spaces, and on camelCase humps.
var columnHints = map[string]custos.DataType{
	"sfz": custos.TypeCNID, "sfzh": custos.TypeCNID, "idcard": custos.TypeCNID, "idno": custos.TypeCNID, "身份证": custos.TypeCNID, "身份证号": custos.TypeCNID, "zjhm": custos.TypeCNID,
	"mobile": custos.TypeCNMobile, "phone": custos.TypeCNMobile, "cellphone": custos.TypeCNMobile, "sjh": custos.TypeCNMobile, "shouji": custos.TypeCNMobile, "手机": custos.TypeCNMobile, "手机号": custos.TypeCNMobile, "tel": custos.TypeCNMobile, "电话": custos.TypeCNMobile,
	"email": custos.TypeEmail, "mail": custos.TypeEmail, "邮箱": custos.TypeEmail,
	"name": custos.TypeCNName, "xm": custos.TypeCNName, "xingming": custos.TypeCNName, "姓名": custos.TypeCNName, "realname": custos.TypeCNName, "fullname": custos.TypeCNName,
	"address": custos.TypeCNAddress, "addr": custos.TypeCNAddress, "dz": custos.TypeCNAddress, "地址": custos.TypeCNAddress, "住址": custos.TypeCNAddress,
	"birthday": custos.TypeDateOfBirth, "dob": custos.TypeDateOfBirth, "birth": custos.TypeDateOfBirth, "birthdate": custos.TypeDateOfBirth, "csrq": custos.TypeDateOfBirth, "出生日期": custos.TypeDateOfBirth, "生日": custos.TypeDateOfBirth,
	"card": custos.TypeBankCard, "cardno": custos.TypeBankCard, "bankcard": custos.TypeBankCard, "卡号": custos.TypeBankCard, "yhkh": custos.TypeBankCard,
	"passport": custos.TypeCNPassport, "护照": custos.TypeCNPassport, "hzhm": custos.TypeCNPassport,
	"plate": custos.TypeCNPlate, "cph": custos.TypeCNPlate, "车牌": custos.TypeCNPlate, "车牌号": custos.TypeCNPlate,
	"pnr": custos.TypeFlightPNR, "imei": custos.TypeIMEI, "ip": custos.TypeIPv4, "ipv6": custos.TypeIPv6,
	"lat": custos.TypeGeoCoord, "lng": custos.TypeGeoCoord, "latitude": custos.TypeGeoCoord, "longitude": custos.TypeGeoCoord, "geo": custos.TypeGeoCoord,
	"ssn": custos.TypeUSSSN, "iban": custos.TypeIBAN, "uscc": custos.TypeCNUSCC, "tyshxydm": custos.TypeCNUSCC, "hkid": custos.TypeHKID,
}

// notPersonName are name words that qualify something other than a person.
var notPersonName = map[string]bool{"file": true, "table": true, "product": true, "company": true, "user": true,
	"host": true, "domain": true, "app": true, "class": true, "type": true, "column": true, "db": true, "schema": true,
	"item": true, "goods": true, "shop": true, "store": true, "org": true, "dept": true, "group": true, "role": true,
	"field": true, "key": true, "bucket": true, "server": true, "device": true, "brand": true, "city": true, "province": true,
	"bank": true, "merchant": true, "project": true, "task": true, "job": true, "event": true, "display": true, "nick": true}

// ColumnHint guesses from a column or field name ("id_card_no",
// "customerMobile", "收件人姓名") the type its values hold. It is a hint
// for classifying columns together with the values (Classify); ok is
// false when the name says nothing.
func ColumnHint(column string) (t custos.DataType, ok bool) {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range column {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ':
			flush()
			prevLower = false
			continue
		case r >= 'A' && r <= 'Z' && prevLower:
			flush()
		}
		prevLower = r >= 'a' && r <= 'z'
		cur = append(cur, r)
	}
	flush()
	// joined pairs first ("id_card_no" is an ID, "card_no" a bank card)
	for i := 0; i+1 < len(words); i++ {
		if t, ok := columnHints[words[i]+words[i+1]]; ok {
			return t, true
		}
	}
	for _, w := range words {
		if w == "email" || w == "mail" {
			return custos.TypeEmail, true // email_address is no postal address
		}
	}
	for i := len(words) - 1; i >= 0; i-- {
		w := words[i]
		if t, ok := columnHints[w]; ok {
			if t == custos.TypeCNName && i > 0 && notPersonName[words[i-1]] {
				return "", false
			}
			return t, true
		}
		for _, h := range cjkHints {
			if strings.Contains(w, h.word) {
				return h.t, true
			}
		}
	}
	return "", false
}

// cjkHints are the Chinese column words, longest first, found anywhere
// in a name ("收件人姓名").
var cjkHints = func() []struct {
	word string
	t    custos.DataType
} {
	var hs []struct {
		word string
		t    custos.DataType
	}
	for k, t := range columnHints {
		if !isASCII(k) {
			hs = append(hs, struct {
				word string
				t    custos.DataType
			}{k, t})
		}
	}
	sort.Slice(hs, func(i, j int) bool {
		if len(hs[i].word) != len(hs[j].word) {
			return len(hs[i].word) > len(hs[j].word)
		}
		return hs[i].word < hs[j].word
	})
	return hs
}()

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// writtenAs is a cheap pre-check for Valid: the characters of v are
// ones a written form of t can hold (digits of any script, separators,
// and the letters of the type). It keeps Valid from accepting values that
// normalize to a valid identifier only because Normalize drops noise.
func writtenAs(t custos.DataType, v string) bool {
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r >= '０' && r <= '９', cnDigit(r) != 0:
		case r == ' ' || r == '-' || r == '.' || r == '\u3000' || r == '－' || r == '．':
		case r == '+' && (t == custos.TypeCNMobile || t == custos.TypeIntlPhone):
		case (r == '(' || r == ')') && (t == custos.TypeHKID || t == custos.TypeIntlPhone):
		case (r == 'x' || r == 'X' || r == 'Ｘ' || r == 'ｘ') && t == custos.TypeCNID:
		case r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z':
			switch t {
			case custos.TypeCNUSCC, custos.TypeHKID, custos.TypeTWID, custos.TypeIBAN:
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validNormalized applies the detectors' validators to a normalized value.
func validNormalized(t custos.DataType, n []byte) bool {
	switch t {
	case custos.TypeCNID:
		return validCNID18(n) || validCNID15(n)
	case custos.TypeCNMobile:
		return mobileSegment(n)
	case custos.TypeBankCard:
		return validBankCard(n)
	case custos.TypeCNLandline:
		return landline(n)
	case custos.TypeIntlPhone:
		if len(n) < 2 || n[0] != '+' {
			return false
		}
		d := n[1:]
		cc := countryCode(d)
		return cc > 0 && len(d) >= 8 && len(d) <= 15 && len(d)-cc >= 6
	case custos.TypeUSSSN:
		return validSSN(n)
	case custos.TypeIMEI:
		return validIMEI(n)
	case custos.TypeCNUSCC:
		return validUSCC(n)
	case custos.TypeHKID:
		return validHKID(n)
	case custos.TypeTWID:
		return validTWID(n)
	case custos.TypeIBAN:
		return validIBAN(n)
	}
	return false
}
