package pii

import "github.com/custos-dev/custos"

// Context words: a candidate preceded (on the same line, within
// contextWindow bytes) by one of its type's words gains confidence; one
// preceded by a negative word (order, tracking, serial numbers) loses it.
// ASCII words match case-insensitively. Words are written in simplified
// characters; ctxIndex holds each in its traditional spellings too
// (身分證, 電話, 訂單: fold.go).

const contextWindow = 48

var contextWords = map[custos.DataType][]string{
	custos.TypeCNID:        {"身份证", "身分证", "证件号", "公民身份", "身份号", "id card", "idcard", "id_card", "id no", "id_no", "id number", "sfz", "identity"},
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
	custos.TypeIntlPhone:   {"phone", "tel", "电话", "手机", "mobile", "whatsapp"},
	custos.TypeHKID:        {"身份证", "hkid", "identity"},
	custos.TypeTWID:        {"身分证", "身份证", "统一编号", "id"},
	custos.TypeIBAN:        {"iban", "account", "账户", "账号"},
	custos.TypeCNUSCC:      {"信用代码", "统一社会", "uscc", "税号"},
	custos.TypeCNAddress:   addressContext,
}

// negativeWords say the number next to them is a business identifier,
// not a person's.
var negativeWords = []string{"订单", "单号", "运单", "快递", "流水号", "交易号", "序列号", "批次", "工单",
	"order", "tracking", "serial", "invoice", "sku", "txn", "transaction", "ref no", "batch", "_id", "uid", "msgid",
	"version", "firmware", "版本", "固件", "build"}

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

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ctxWord is one context word in the combined dictionary.
type ctxWord struct {
	w    string // lower case
	mask uint32 // bit per type (ctxBit), negBit for negative words
}

const negBit = 1 << 31

// ctxBit gives each type with context words its bit.
var ctxBit = func() map[custos.DataType]uint32 {
	m := make(map[custos.DataType]uint32)
	for i, t := range custos.DataTypes {
		m[t] = 1 << i
	}
	return m
}()

// Context words are indexed by their first two bytes (ASCII folded), so
// that scanning a window costs one table load per byte.
var (
	ctxBuckets [][]ctxWord
	ctxIndex   = func() *[1 << 16]uint16 {
		var idx [1 << 16]uint16
		ctxBuckets = [][]ctxWord{nil}
		add := func(w string, mask uint32) {
			key := uint16(lower(w[0]))<<8 | uint16(lower(w[1]))
			b := idx[key]
			if b == 0 {
				b = uint16(len(ctxBuckets))
				ctxBuckets = append(ctxBuckets, nil)
				idx[key] = b
			}
			for k, cw := range ctxBuckets[b] {
				if cw.w == w {
					ctxBuckets[b][k].mask |= mask
					return
				}
			}
			ctxBuckets[b] = append(ctxBuckets[b], ctxWord{w, mask})
		}
		for t, ws := range contextWords {
			for _, w := range ws {
				for _, v := range variants(w) {
					add(v, ctxBit[t])
				}
			}
		}
		for _, w := range negativeWords {
			for _, v := range variants(w) {
				add(v, negBit)
			}
		}
		return &idx
	}()
)

// ctxScan returns the start of the last context word in w whose mask
// meets mask, and that word's mask; -1 when there is none.
func ctxScan(w []byte, mask uint32) (int, uint32) {
	for i := len(w) - 2; i >= 0; i-- {
		if w[i]&0xC0 == 0x80 {
			continue // a UTF-8 continuation byte starts no word
		}
		key := uint16(lower(w[i]))<<8 | uint16(lower(w[i+1]))
		if ctxBits[key>>6]&(1<<(key&63)) == 0 {
			continue
		}
		b := ctxIndex[key]
		if b == 0 {
			continue
		}
		for _, cw := range ctxBuckets[b] {
			if cw.mask&mask == 0 || len(cw.w) > len(w)-i {
				continue
			}
			j := 2
			for j < len(cw.w) && lower(w[i+j]) == cw.w[j] {
				j++
			}
			if j == len(cw.w) && wordStart(w, i) {
				return i, cw.mask
			}
		}
	}
	return -1, 0
}

// contextOf says what the line before start suggests about a candidate of
// type t: +1 when a word of t is nearer than any negative word, -1 when a
// negative word (order, tracking, serial number) is nearer, 0 for neither.
func contextOf(text []byte, start int, t kind) int {
	k, m := ctxScan(window(text, start), t.bit|negBit)
	switch {
	case k < 0:
		return 0
	case m&t.bit != 0:
		return 1
	}
	return -1
}

// inContext reports whether the line before start names type t.
func inContext(text []byte, start int, t kind) bool {
	k, _ := ctxScan(window(text, start), t.bit)
	return k >= 0
}

// labelledBy reports whether a context word of t labels the token at
// start directly: only separators (spaces, colons, full-width punctuation,
// Han characters) lie between them, no other ASCII value. Used where a
// token shape alone says little (PNRs are any six capitals).
func labelledBy(text []byte, start int, t kind) bool {
	w := window(text, start)
	k, _ := ctxScan(w, t.bit)
	if k < 0 {
		return false
	}
	rest := w[k:]
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

// ctxBits is the set of keys in ctxIndex as an 8 KiB bitmap that stays in
// the L1 cache while windows are scanned.
var ctxBits = func() *[1 << 10]uint64 {
	var b [1 << 10]uint64
	for k, v := range ctxIndex {
		if v != 0 {
			b[k>>6] |= 1 << (k & 63)
		}
	}
	return &b
}()

// kind is a data type with its context bit, looked up once at start-up
// rather than per candidate.
type kind struct {
	t   custos.DataType
	bit uint32
}

func kindOf(t custos.DataType) kind { return kind{t, ctxBit[t]} }

var (
	kCNID        = kindOf(custos.TypeCNID)
	kCNMobile    = kindOf(custos.TypeCNMobile)
	kCNLandline  = kindOf(custos.TypeCNLandline)
	kBankCard    = kindOf(custos.TypeBankCard)
	kCNUSCC      = kindOf(custos.TypeCNUSCC)
	kCNPassport  = kindOf(custos.TypeCNPassport)
	kCNPlate     = kindOf(custos.TypeCNPlate)
	kHKID        = kindOf(custos.TypeHKID)
	kTWID        = kindOf(custos.TypeTWID)
	kHKMOPermit  = kindOf(custos.TypeHKMOPermit)
	kEmail       = kindOf(custos.TypeEmail)
	kIMEI        = kindOf(custos.TypeIMEI)
	kGeoCoord    = kindOf(custos.TypeGeoCoord)
	kCNName      = kindOf(custos.TypeCNName)
	kCNAddress   = kindOf(custos.TypeCNAddress)
	kFlightPNR   = kindOf(custos.TypeFlightPNR)
	kIBAN        = kindOf(custos.TypeIBAN)
	kUSSSN       = kindOf(custos.TypeUSSSN)
	kIntlPhone   = kindOf(custos.TypeIntlPhone)
	kDateOfBirth = kindOf(custos.TypeDateOfBirth)
	kIPv4        = kindOf(custos.TypeIPv4)
)

// wordStart reports whether an ASCII context word may start at w[i]: not
// inside another word ("pnr" in LPNRPQ, "tel" in hotel), except at a
// camel-case hump ("cellPhone").
func wordStart(w []byte, i int) bool {
	if i == 0 || w[i]|0x20-'a' >= 26 {
		return true
	}
	p := w[i-1]
	if p|0x20-'a' >= 26 {
		return true
	}
	return p-'a' < 26 && w[i]-'A' < 26
}
