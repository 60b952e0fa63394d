package pii

import "github.com/custos-dev/custos"

// Context words: a candidate preceded (on the same line, within
// contextWindow bytes) by one of its type's words gains confidence; one
// preceded by a negative word (order, tracking, serial numbers) loses it.
// ASCII words match case-insensitively.

const contextWindow = 48

var contextWords = map[custos.DataType][]string{
	custos.TypeCNID:        {"身份证", "证件号", "公民身份", "身份号", "id card", "idcard", "id_card", "id no", "id_no", "id number", "sfz", "identity"},
	custos.TypeCNMobile:    {"手机", "电话", "联系方式", "致电", "来电", "号码", "mobile", "phone", "tel", "cell", "contact"},
	custos.TypeCNLandline:  {"电话", "座机", "固话", "传真", "tel", "phone", "fax"},
	custos.TypeBankCard:    {"卡号", "银行卡", "账号", "信用卡", "借记卡", "储蓄卡", "card", "account", "acct"},
	custos.TypeIMEI:        {"imei", "串号", "设备号", "device"},
	custos.TypeUSSSN:       {"ssn", "social security", "社会安全"},
	custos.TypeCNPassport:  {"护照", "passport"},
	custos.TypeHKMOPermit:  {"通行证", "港澳", "回乡证", "permit"},
	custos.TypeFlightPNR:   {"pnr", "订座记录", "记录编号", "预订编号", "booking ref", "record locator", "booking code", "订座编码"},
	custos.TypeDateOfBirth: {"出生日期", "生日", "出生", "dob", "date of birth", "birthday", "birth date", "birthdate", "born"},
	custos.TypeCNPlate:     {"车牌", "号牌", "plate"},
	custos.TypeGeoCoord:    {"坐标", "经纬度", "位置", "定位", "lat", "lng", "lon", "location", "gps", "coord"},
	custos.TypeIntlPhone:   {"phone", "tel", "电话", "mobile", "whatsapp"},
	custos.TypeHKID:        {"身份证", "hkid", "identity"},
	custos.TypeTWID:        {"身分證", "身份证", "統一編號", "id"},
	custos.TypeIBAN:        {"iban", "account", "账户", "账号"},
	custos.TypeCNUSCC:      {"信用代码", "统一社会", "uscc", "税号"},
}

// negativeWords say the number next to them is a business identifier,
// not a person's.
var negativeWords = []string{"订单", "单号", "运单", "快递", "流水号", "交易号", "序列号", "批次", "工单",
	"order", "tracking", "serial", "invoice", "sku", "txn", "transaction", "ref no", "batch", "_id", "uid", "msgid"}

// window returns the bytes before start that can label a candidate
// there: at most contextWindow of them, on the same line, and after the
// previous digit (a label belongs to the value right after it, so in
// "出生日期：1990-03-07，入职日期：2024-01-15" the second date is no birth date).
func window(text []byte, start int) []byte {
	lo := start - contextWindow
	if lo < 0 {
		lo = 0
	}
	for i := start - 1; i >= lo; i-- {
		if c := text[i]; c == '\n' || c-'0' < 10 {
			return text[i+1 : start]
		}
	}
	return text[lo:start]
}

// hasWord reports whether w contains any of words (ASCII folded).
func hasWord(w []byte, words []string) bool {
	for _, k := range words {
		if containsFold(w, k) {
			return true
		}
	}
	return false
}

// containsFold is bytes.Contains with ASCII letters of k matched
// case-insensitively (k is lower case).
func containsFold(s []byte, k string) bool {
	n := len(k)
	if n == 0 || n > len(s) {
		return false
	}
	first := k[0]
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == k[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lastFold returns the index of the last occurrence in s of any of words
// (ASCII folded), or -1.
func lastFold(s []byte, words []string) int {
	best := -1
	for _, k := range words {
		n := len(k)
		for i := len(s) - n; i > best; i-- {
			if lower(s[i]) != k[0] {
				continue
			}
			j := 1
			for j < n && lower(s[i+j]) == k[j] {
				j++
			}
			if j == n {
				best = i
				break
			}
		}
	}
	return best
}

// contextOf says what the line before start suggests about a candidate of
// type t: +1 when a word of t is nearer than any negative word, -1 when a
// negative word (order, tracking, serial number) is nearer, 0 for neither.
func contextOf(text []byte, start int, t custos.DataType) int {
	w := window(text, start)
	pos := lastFold(w, contextWords[t])
	neg := lastFold(w, negativeWords)
	switch {
	case pos < 0 && neg < 0:
		return 0
	case pos > neg:
		return 1
	}
	return -1
}

// inContext reports whether the line before start names type t.
func inContext(text []byte, start int, t custos.DataType) bool {
	return hasWord(window(text, start), contextWords[t])
}

// labelledBy reports whether one of words labels the token at start
// directly: only separators (spaces, colons, full-width punctuation, Han
// characters) lie between them, no other ASCII value. Used where a token
// shape alone says little (PNRs are any six capitals).
func labelledBy(text []byte, start int, words []string) bool {
	w := window(text, start)
	k := lastFold(w, words)
	if k < 0 {
		return false
	}
	rest := w[k:]
	// skip the word itself (its ASCII letters, if any)
	j := 0
	for j < len(rest) && isWord(rest[j]) {
		j++
	}
	for ; j < len(rest); j++ {
		if isWord(rest[j]) {
			return false
		}
	}
	return true
}
