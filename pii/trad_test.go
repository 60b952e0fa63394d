package pii_test

import (
	"testing"

	"github.com/custos-dev/custos/pii"
)

// TestFindTraditional: names, addresses and context words written in
// traditional characters (Taiwan, Hong Kong) are found as written, and
// Taiwan mobile numbers only where docs/discovery.md says.
func TestFindTraditional(t *testing.T) {
	tests := []findCase{
		// item 1: folding on candidates
		{"traditional label and name", "客戶姓名：張偉，", []want{{"cn_name", "張偉"}}},
		{"traditional surname after simplified label", "姓名：陳美玲。", []want{{"cn_name", "陳美玲"}}},
		{"traditional compound surname", "乘客姓名：歐陽娜娜，", []want{{"cn_name", "歐陽娜娜"}}},
		{"traditional stop word", "客戶張三先生您好", []want{{"cn_name", "張三"}}},
		{"traditional stop character", "聯繫人劉德華說", []want{{"cn_name", "劉德華"}}},
		{"traditional label with 為", "法定代表人為孫麗，", []want{{"cn_name", "孫麗"}}},
		{"traditional name word is no name", "學生成績優秀", nil},
		{"traditional title is no name", "聯繫人：王經理，", nil},
		{"traditional service word", "客戶服務中心", nil},
		{"traditional name field before phone", "張偉,13800138000", []want{{"cn_name", "張偉"}, {"cn_mobile", "13800138000"}}},
		{"traditional address after label", "地址：臺北市信義區松仁路100號5樓，", []want{{"cn_address", "臺北市信義區松仁路100號5樓"}}},
		{"traditional division starts an address", "寄往廣東省深圳市南山區科技園路88號A座1201室，", []want{{"cn_address", "廣東省深圳市南山區科技園路88號A座1201室"}}},
		{"mixed scripts in one address", "送貨地址：台北市大安區忠孝東路四段1號3樓", []want{{"cn_address", "台北市大安區忠孝東路四段1號3樓"}}},
		{"traditional division without a label", "寄到臺北市信義區松仁路100號5樓給他", []want{{"cn_address", "臺北市信義區松仁路100號5樓"}}},
		{"Hong Kong address", "香港特別行政區灣仔區告士打道100號", []want{{"cn_address", "香港特別行政區灣仔區告士打道100號"}}},
		{"traditional division without street", "北京市朝陽區的天氣不錯", nil},
		{"traditional context raises an ID", "身份證號碼 11010519491231002X", []want{{"cn_id", "11010519491231002X"}}},
		{"traditional negative context", "訂單號：13800138000", nil},
		{"traditional IMEI context", "設備號 353270390808873", []want{{"imei", "353270390808873"}}},
		// item 2: labels
		{"contact person label, simplified", "联络人：王芳，", []want{{"cn_name", "王芳"}}},
		{"contact person label, traditional", "聯絡人：黃志明，", []want{{"cn_name", "黃志明"}}},
		{"Taiwan ID label", "身分證字號：A123456789", []want{{"tw_id", "A123456789"}}},
		{"Taiwan ID label before a mainland ID", "身分證 11010519491231002X", []want{{"cn_id", "11010519491231002X"}}},
		{"name before the Taiwan ID label", "經查，李娜（身分證11010519491231002X）", []want{{"cn_name", "李娜"}, {"cn_id", "11010519491231002X"}}},
		// item 3: Taiwan mobile numbers
		{"+886 mobile", "tel +886 912 345 678.", []want{{"intl_phone", "+886 912 345 678"}}},
		{"+886 mobile unseparated", "+886912345678", []want{{"intl_phone", "+886912345678"}}},
		{"09 mobile after a phone word", "手機：0912-345-678", []want{{"intl_phone", "0912-345-678"}}},
		{"09 mobile after a simplified phone word", "电话 0912345678", []want{{"intl_phone", "0912345678"}}},
		{"09 mobile in English", "Mobile: 0912 345 678", []want{{"intl_phone", "0912 345 678"}}},
		{"09 digits without a phone word", "編號 0912345678", nil},
		{"09 digits bare", "0912345678", nil},
		{"09 digits after an order word", "電話訂單 0912345678", nil},
		{"09 digits in a token", "SN0912345678", nil},
		{"08 is no mobile", "電話 0812345678", nil},
	}
	runFindCases(t, tests)
}

// TestSimplified checks the fold's contract that scan relies on: pairs
// keep their UTF-8 length, and other characters are left as they are.
func TestSimplified(t *testing.T) {
	pairs := pii.TradSimpPairs()
	if len(pairs) < 400 {
		t.Fatalf("%d pairs", len(pairs))
	}
	for tr, si := range pairs {
		if got := pii.Simplified(tr); got != si || len(string(tr)) != len(string(si)) {
			t.Errorf("Simplified(%c) = %c, want %c of the same length", tr, got, si)
		}
	}
	for _, r := range "张伟A1，😀" {
		if got := pii.Simplified(r); got != r {
			t.Errorf("Simplified(%c) = %c", r, got)
		}
	}
}
