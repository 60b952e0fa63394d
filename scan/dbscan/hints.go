package dbscan

import (
	"strings"
	"unicode"

	"github.com/custos-dev/custos"
)

// A hint ties words in column names to a data type. Chinese words match
// anywhere in the name; English words match a whole word of the name
// (split at _, -, spaces and camelCase), or anywhere in it when long and
// distinctive enough not to occur by accident ("mobile", "idcard").
type hint struct {
	t        custos.DataType
	chinese  []string
	words    []string // whole words
	anywhere []string // substrings of the name with separators removed
}

// hints are checked in order; the first that matches wins, so the more
// specific (身份证 before 证件, 座机 before 电话) come first.
var hints = []hint{
	{t: custos.TypeCNID, chinese: []string{"身份证", "证件号", "身份号"}, words: []string{"sfz", "sfzh", "sfzhm", "idno", "idnum"}, anywhere: []string{"idcard", "idnumber", "identitycard", "identityno", "nationalid", "citizenid", "residentid"}},
	{t: custos.TypeCNPassport, chinese: []string{"护照"}, anywhere: []string{"passport"}},
	{t: custos.TypeHKMOPermit, chinese: []string{"港澳通行证", "通行证"}, anywhere: []string{"hkmopermit", "homereturn"}},
	{t: custos.TypeHKID, words: []string{"hkid"}},
	{t: custos.TypeTWID, words: []string{"twid"}},
	{t: custos.TypeUSSSN, words: []string{"ssn"}},
	{t: custos.TypeCNUSCC, chinese: []string{"统一社会信用代码", "信用代码"}, words: []string{"uscc"}, anywhere: []string{"creditcode", "socialcredit"}},
	{t: custos.TypeBankCard, chinese: []string{"银行卡", "卡号", "账号", "银行账户"}, words: []string{"pan"}, anywhere: []string{"bankcard", "cardno", "cardnumber", "bankaccount", "accountno"}},
	{t: custos.TypeIBAN, words: []string{"iban"}},
	{t: custos.TypeCNLandline, chinese: []string{"座机", "固话", "固定电话", "办公电话"}, anywhere: []string{"landline", "telephone", "officephone"}},
	{t: custos.TypeCNMobile, chinese: []string{"手机", "电话", "联系方式", "移动号码"}, words: []string{"tel", "msisdn"}, anywhere: []string{"mobile", "phone", "cellphone"}},
	{t: custos.TypeEmail, chinese: []string{"邮箱", "电子邮件", "邮件"}, words: []string{"mail"}, anywhere: []string{"email"}},
	{t: custos.TypeDateOfBirth, chinese: []string{"出生", "生日"}, words: []string{"dob", "birth", "born"}, anywhere: []string{"birthday", "birthdate", "dateofbirth"}},
	{t: custos.TypeCNAddress, chinese: []string{"地址", "住址", "户籍", "居住地"}, words: []string{"addr", "street"}, anywhere: []string{"address"}},
	{t: custos.TypeCNName, chinese: []string{"姓名", "名字", "联系人", "收件人", "乘客", "客户名", "真实姓名"}, words: []string{"name", "fullname", "realname", "xm"}, anywhere: []string{"customername", "passengername", "realname", "fullname", "contactname"}},
	{t: custos.TypeCNPlate, chinese: []string{"车牌"}, anywhere: []string{"licenseplate", "plateno", "platenumber"}},
	{t: custos.TypeIMEI, chinese: []string{"设备号", "串号"}, words: []string{"imei"}},
	{t: custos.TypeGeoCoord, chinese: []string{"经纬度", "坐标", "经度", "纬度"}, words: []string{"lat", "lng", "lon", "latitude", "longitude", "geo", "coord", "coords"}},
	{t: custos.TypeIPv4, words: []string{"ip", "ipaddr", "ipv4"}, anywhere: []string{"ipaddress", "clientip", "remoteip", "loginip"}},
	{t: custos.TypeIPv6, words: []string{"ipv6"}},
	{t: custos.TypeFlightPNR, chinese: []string{"订座记录"}, words: []string{"pnr"}},
}

// nameHint returns the data type a column name suggests, or "".
func nameHint(column string) custos.DataType {
	low := strings.ToLower(column)
	words := splitWords(column)
	squashed := strings.Join(words, "")
	for _, h := range hints {
		for _, c := range h.chinese {
			if strings.Contains(column, c) {
				return h.t
			}
		}
		for _, w := range h.words {
			for _, x := range words {
				if x == w {
					return h.t
				}
			}
		}
		for _, a := range h.anywhere {
			if strings.Contains(squashed, a) || strings.Contains(low, a) {
				return h.t
			}
		}
	}
	return ""
}

// splitWords splits a column name into lower-case words at separators,
// digits-to-letters changes and camelCase humps: "custIDCardNo" →
// cust, id, card, no.
func splitWords(s string) []string {
	var words []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}
