package pii_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

type vector struct {
	t     custos.DataType
	valid bool
	value string
	note  string
}

func loadVectors(t testing.TB) []vector {
	f, err := os.Open("testdata/vectors.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) < 3 || !custos.KnownType(parts[0]) {
			t.Fatalf("bad vector line %q", line)
		}
		v := vector{t: parts[0], valid: parts[1] == "valid", value: parts[2]}
		if len(parts) > 3 {
			v.note = parts[3]
		}
		vs = append(vs, v)
	}
	return vs
}

// TestVectors checks Valid on every test vector, and that every valid
// vector is found in running text after a context word of its kind.
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	covered := map[custos.DataType]bool{}
	for _, v := range vs {
		t.Run(v.t+"/"+v.value, func(t *testing.T) {
			if got := pii.Valid(v.t, v.value); got != v.valid {
				t.Errorf("Valid(%s, %q) = %v, want %v %s", v.t, v.value, got, v.valid, v.note)
			}
			if !v.valid {
				return
			}
			covered[v.t] = true
			text := []byte(contextFor[v.t] + v.value + "，谢谢")
			start := len(contextFor[v.t])
			found := false
			for _, m := range pii.Find(text) {
				if m.Offset == start && m.Length == len(v.value) && m.Type == v.t {
					found = true
				}
			}
			if !found {
				t.Errorf("Find(%q) = %v, want %s at %d+%d", text, pii.Find(text), v.t, start, len(v.value))
			}
		})
	}
	for _, ty := range custos.DataTypes {
		if !covered[ty] {
			t.Errorf("no valid test vector for %s", ty)
		}
	}
}

// contextFor is a label that precedes a value of each type in TestVectors.
var contextFor = map[custos.DataType]string{
	custos.TypeCNID: "身份证号：", custos.TypeCNMobile: "手机：", custos.TypeCNLandline: "电话：",
	custos.TypeBankCard: "卡号 ", custos.TypeCNUSCC: "统一社会信用代码：", custos.TypeCNPassport: "护照 ",
	custos.TypeCNPlate: "车牌 ", custos.TypeHKID: "HKID ", custos.TypeTWID: "身分證 ", custos.TypeHKMOPermit: "港澳通行证 ",
	custos.TypeEmail: "邮箱 ", custos.TypeIPv4: "IP ", custos.TypeIPv6: "IP ", custos.TypeIMEI: "IMEI ",
	custos.TypeGeoCoord: "坐标 ", custos.TypeCNName: "姓名：", custos.TypeCNAddress: "地址：",
	custos.TypeFlightPNR: "PNR ", custos.TypeIBAN: "IBAN ", custos.TypeUSSSN: "SSN ", custos.TypeIntlPhone: "Tel ",
	custos.TypeDateOfBirth: "出生日期：",
}

// findCase is a text and the matches Find must return, in order: type and
// the matched text.
type findCase struct {
	name string
	text string
	want []want
}

type want struct {
	t   custos.DataType
	val string
}

func runFindCases(t *testing.T, tests []findCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := []byte(tc.text)
			var got []want
			for _, m := range pii.Find(text) {
				got = append(got, want{m.Type, string(text[m.Offset : m.Offset+m.Length])})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Find(%q) = %q, want %q", tc.text, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Find(%q)[%d] = %q, want %q", tc.text, i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestFind(t *testing.T) {
	tests := []findCase{
		{"plain ID and mobile", "身份证号11010519491231002X，手机13800138000。", []want{{"cn_id", "11010519491231002X"}, {"cn_mobile", "13800138000"}}},
		{"next to CJK both sides", "电话13800138000联系", []want{{"cn_mobile", "13800138000"}}},
		{"inside alphanumeric token", "ORDER13800138000 SF13800138000 13800138000abc", nil},
		{"UUID last group", "id 3bd06d57-29c3-4d8e-a247-046921510117", nil},
		{"two numbers in a row", "13800138000 13900139000", []want{{"cn_mobile", "13800138000"}, {"cn_mobile", "13900139000"}}},
		{"grouped mobile", "call 138 0013 8000 now", []want{{"cn_mobile", "138 0013 8000"}}},
		{"dotted mobile", "手机 138.0013.8000", []want{{"cn_mobile", "138.0013.8000"}}},
		{"spaced digits", "手机 1 3 8 0 0 1 3 8 0 0 0", []want{{"cn_mobile", "1 3 8 0 0 1 3 8 0 0 0"}}},
		{"+86", "tel +86-138-0013-8000.", []want{{"cn_mobile", "+86-138-0013-8000"}}},
		{"full-width", "手机：１３８００１３８０００", []want{{"cn_mobile", "１３８００１３８０００"}}},
		{"Chinese numerals", "加我一三八零零一三八零零零", []want{{"cn_mobile", "一三八零零一三八零零零"}}},
		{"ordinary Chinese numerals", "第一季度共处理工单三千二百件", nil},
		{"mobile as e-mail local part", "13800138000@qq.com", []want{{"email", "13800138000@qq.com"}}},
		{"e-mail at sentence end", "write to a.b@example.com.", []want{{"email", "a.b@example.com"}}},
		{"order number context", "订单号：13800138000", nil},
		{"card in negative context", "订单号 4111111111111111", nil},
		{"date without birth context", "创建时间 2024-01-15 10:30:00", nil},
		{"birth date then other date", "出生日期：1990-03-07，入职日期：2024-01-15", []want{{"date_of_birth", "1990-03-07"}}},
		{"time is not IPv6", "at 10:30:00 and std::vector", nil},
		{"version is not IPv4", "v1.2.3.4 and 1.2.3.4.5", nil},
		{"hash", "sha1 4f1a09e7c3b2d5a6e8f7b9c0d1e2f3a4b5c6d7e8", nil},
		{"name after context", "乘客姓名：欧阳娜娜，", []want{{"cn_name", "欧阳娜娜"}}},
		{"English label", "Name: 张三; name=李四", []want{{"cn_name", "张三"}, {"cn_name", "李四"}}},
		{"name before stop word", "客户张三先生您好", []want{{"cn_name", "张三"}}},
		{"no name after context", "客户服务中心", nil},
		{"name field before phone", "张伟,13800138000", []want{{"cn_name", "张伟"}, {"cn_mobile", "13800138000"}}},
		{"name before the ID label", "经查，李娜（身份证11010519491231002X）", []want{{"cn_name", "李娜"}, {"cn_id", "11010519491231002X"}}},
		{"no name before a label", "请联系客服，电话13800138000；联系人：王经理，电话13900139000", []want{{"cn_mobile", "13800138000"}, {"cn_mobile", "13900139000"}}},
		{"address", "寄往广东省深圳市南山区科技园路88号A座1201室，", []want{{"cn_address", "广东省深圳市南山区科技园路88号A座1201室"}}},
		{"division without street", "北京市朝阳区的天气不错", nil},
		{"address after 是", "送货地址是北京市朝阳区建国路88号", []want{{"cn_address", "北京市朝阳区建国路88号"}}},
		{"address after 为", "地址为：上海市浦东新区世纪大道100号", []want{{"cn_address", "上海市浦东新区世纪大道100号"}}},
		{"address after 在", "住址在广州市天河区体育西路1号", []want{{"cn_address", "广州市天河区体育西路1号"}}},
		{"no name after 在", "乘客在王府井", nil},
		{"plate", "车牌粤B·D12345违章", []want{{"cn_plate", "粤B·D12345"}}},
		{"HKID with parentheses", "HKID A123456(3)", []want{{"hk_id", "A123456(3)"}}},
		{"IBAN grouped then word", "IBAN GB82 WEST 1234 5698 7654 32 EUR", []want{{"iban", "GB82 WEST 1234 5698 7654 32"}}},
		{"SSN plain needs context", "SSN 123456789 and 123456789", []want{{"us_ssn", "123456789"}}},
		{"PNR needs a direct label", "PNR: MXQ7KZ, flight CA1234", []want{{"flight_pnr", "MXQ7KZ"}}},
		{"label inside a value is no label", "订座记录编号 LPNRPQ，航班 CA1157", []want{{"flight_pnr", "LPNRPQ"}}},
		{"label inside a word is no label", "stubborn 19900307", nil},
		{"IMEI vs legacy ID", "IMEI 353270390808873", []want{{"imei", "353270390808873"}}},
		{"geo", "位置 -33.868800, 151.209300", []want{{"geo_coord", "-33.868800, 151.209300"}}},
	}
	runFindCases(t, tests)
}

func TestAppendMatchesNoAlloc(t *testing.T) {
	text := []byte("乘客姓名：张三明，身份证11010519491231002X，手机138 0013 8000，邮箱 a.b@example.com，地址：广东省深圳市南山区科技园路88号。")
	var d pii.Detector
	dst := make([]pii.Match, 0, 16)
	allocs := testing.AllocsPerRun(100, func() { dst = d.AppendMatches(dst[:0], text) })
	if allocs != 0 {
		t.Errorf("AppendMatches allocates %.1f times per call, want 0", allocs)
	}
	if len(dst) != 5 {
		t.Errorf("got %d matches, want 5: %v", len(dst), dst)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		value string
		want  custos.DataType
	}{
		{" 13800138000 ", custos.TypeCNMobile},
		{"11010519491231002X", custos.TypeCNID},
		{"张伟", custos.TypeCNName},
		{"zhang@example.com", custos.TypeEmail},
		{"hello 13800138000", ""},
		{"2024-01-15", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got := pii.Classify(tc.value)
		var gt custos.DataType
		if len(got) > 0 {
			gt = got[0].Type
			if got[0].Offset != len(tc.value)-len(strings.TrimLeft(tc.value, " ")) {
				t.Errorf("Classify(%q) offset %d", tc.value, got[0].Offset)
			}
		}
		if gt != tc.want {
			t.Errorf("Classify(%q) = %v, want %q", tc.value, got, tc.want)
		}
	}
}

func TestColumnHint(t *testing.T) {
	tests := []struct {
		col  string
		want custos.DataType
	}{
		{"id_card_no", custos.TypeCNID}, {"card_no", custos.TypeBankCard}, {"customerMobile", custos.TypeCNMobile},
		{"收件人姓名", custos.TypeCNName}, {"file_name", ""}, {"real_name", custos.TypeCNName}, {"birthday", custos.TypeDateOfBirth},
		{"email_address", custos.TypeEmail}, {"home_address", custos.TypeCNAddress}, {"created_at", ""}, {"sfzh", custos.TypeCNID},
	}
	for _, tc := range tests {
		got, _ := pii.ColumnHint(tc.col)
		if got != tc.want {
			t.Errorf("ColumnHint(%q) = %q, want %q", tc.col, got, tc.want)
		}
	}
}
