package mask

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/custos-dev/custos"
)

func TestPartial(t *testing.T) {
	tests := []struct {
		name string
		typ  custos.DataType
		in   string
		want string
	}{
		{"mobile", custos.TypeCNMobile, "13812345678", "138****5678"},
		{"mobile with separators", custos.TypeCNMobile, "138-1234-5678", "138-****-5678"},
		{"mobile +86", custos.TypeCNMobile, "+86 13812345678", "+86 138****5678"},
		{"short mobile shows at most a quarter", custos.TypeCNMobile, "1234", "***4"},
		{"id 18", custos.TypeCNID, "110101199003071234", "110101********1234"},
		{"id with X", custos.TypeCNID, "11010119900307123X", "110101********123X"},
		{"id 15", custos.TypeCNID, "110101900307123", "110101*****7123"},
		{"bank card", custos.TypeBankCard, "6222021234567890", "************7890"},
		{"bank card spaced", custos.TypeBankCard, "6222 0212 3456 7890", "**** **** **** 7890"},
		{"email", custos.TypeEmail, "zhang.san@x.com", "z********@x.com"},
		{"email one char", custos.TypeEmail, "a@x.com", "*@x.com"},
		{"name 3", custos.TypeCNName, "张三明", "张*明"},
		{"name 2", custos.TypeCNName, "张三", "张*"},
		{"name 4", custos.TypeCNName, "欧阳娜娜", "欧**娜"},
		{"name 1", custos.TypeCNName, "张", "*"},
		{"address district", custos.TypeCNAddress, "北京市海淀区中关村大街1号", "北京市海淀区*******"},
		{"address province", custos.TypeCNAddress, "广东省深圳市南山区科技园路8号", "广东省深圳市南山区******"},
		{"address autonomous region", custos.TypeCNAddress, "新疆维吾尔自治区乌鲁木齐市天山区解放路", "新疆维吾尔自治区乌鲁木齐市天山区***"},
		{"address 市中区", custos.TypeCNAddress, "山东省济南市市中区经十路", "山东省济南市市中区***"},
		{"address county", custos.TypeCNAddress, "浙江省杭州市淳安县千岛湖镇", "浙江省杭州市淳安县****"},
		{"address no city", custos.TypeCNAddress, "海淀区中关村市场3层", "海淀区*******"},
		{"address unknown", custos.TypeCNAddress, "某某路1号院子里", "某某******"},
		{"dob", custos.TypeDateOfBirth, "1990-03-07", "1990-**-**"},
		{"dob chinese", custos.TypeDateOfBirth, "1990年3月7日", "1990年*月*日"},
		{"ipv4", custos.TypeIPv4, "10.1.2.3", "10.1.*.*"},
		{"ipv4 keeps length", custos.TypeIPv4, "10.1.200.30", "10.1.***.**"},
		{"landline", custos.TypeCNLandline, "010-62345678", "010-******78"},
		{"empty", custos.TypeCNMobile, "", ""},
		{"other type", custos.TypeCNPassport, "E12345678", "E1*****78"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Partial(tt.typ, tt.in); got != tt.want {
				t.Errorf("Partial(%s, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
			}
		})
	}
}

// randDigits returns n random ASCII digits.
func randDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// TestPartialRevealsOnlyKept is the property test: over random values, each
// output position is either the original character in a kept position, a
// separator, or a star — so no digit outside the kept head and tail
// survives.
func TestPartialRevealsOnlyKept(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		typ        custos.DataType
		n          int
		head, tail int
	}{
		{custos.TypeCNMobile, 11, 3, 4},
		{custos.TypeCNID, 18, 6, 4},
		{custos.TypeBankCard, 16, 0, 4},
		{custos.TypeBankCard, 19, 0, 4},
		{custos.TypeCNLandline, 11, 3, 2},
	}
	for _, c := range cases {
		for i := 0; i < 2000; i++ {
			v := randDigits(r, c.n)
			got := Partial(c.typ, v)
			if len(got) != len(v) {
				t.Fatalf("%s: length %d, want %d", c.typ, len(got), len(v))
			}
			for k := range v {
				kept := k < c.head || k >= c.n-c.tail
				switch {
				case kept && got[k] != v[k]:
					t.Fatalf("%s %q → %q: kept position %d changed", c.typ, v, got, k)
				case !kept && got[k] != '*':
					t.Fatalf("%s %q → %q: position %d revealed", c.typ, v, got, k)
				}
			}
		}
		// Any length, not just the proper one: never more digits than the
		// convention keeps.
		for n := 0; n < 30; n++ {
			v := randDigits(r, n)
			got := Partial(c.typ, v)
			if shown := n - strings.Count(got, "*"); shown > c.head+c.tail || n > 0 && shown >= n {
				t.Fatalf("%s length %d: %q shows %d digits", c.typ, n, got, shown)
			}
		}
	}
}

func TestAddressNeverRevealsStreet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	prefixes := []string{"北京市朝阳区", "广东省深圳市南山区", "四川省成都市武侯区", "内蒙古自治区呼和浩特市新城区"}
	for i := 0; i < 1000; i++ {
		p := prefixes[r.IntN(len(prefixes))]
		street := "幸福路" + randDigits(r, 1+r.IntN(4)) + "号" + randDigits(r, r.IntN(4)) + "室"
		got := Partial(custos.TypeCNAddress, p+street)
		if !strings.HasPrefix(got, p) {
			t.Fatalf("%q: prefix lost: %q", p+street, got)
		}
		if rest := got[len(p):]; strings.Trim(rest, "*") != "" || utf8.RuneCountInString(rest) != utf8.RuneCountInString(street) {
			t.Fatalf("%q: street not fully starred: %q", p+street, got)
		}
	}
}

func newTestTokenizer(t *testing.T) *Tokenizer {
	t.Helper()
	tk, err := NewTokenizer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestNewTokenizerShortKey(t *testing.T) {
	if _, err := NewTokenizer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestToken(t *testing.T) {
	tk := newTestTokenizer(t)
	a := tk.Token(custos.TypeCNMobile, "13812345678")
	if b := tk.Token(custos.TypeCNMobile, "+86 138 1234 5678"); a != b {
		t.Errorf("same number in two layouts: %s vs %s", a, b)
	}
	if c := tk.Token(custos.TypeCNMobile, "13812345679"); a == c {
		t.Error("different numbers share a token")
	}
	if c := tk.Token(custos.TypeCNLandline, "13812345678"); a == c {
		t.Error("type is not part of the token")
	}
	other, _ := NewTokenizer([]byte("fedcba9876543210fedcba9876543210"))
	if c := other.Token(custos.TypeCNMobile, "13812345678"); a == c {
		t.Error("key is not part of the token")
	}
	if !strings.HasPrefix(a, "tok_") || len(a) != 36 {
		t.Errorf("token form %q", a)
	}
}

func classOf(r rune) string {
	switch {
	case '0' <= r && r <= '9':
		return "digit"
	case 'a' <= r && r <= 'z':
		return "lower"
	case 'A' <= r && r <= 'Z':
		return "upper"
	case unicode.Is(unicode.Han, r):
		return "han"
	}
	return string(r)
}

func TestFormatToken(t *testing.T) {
	tk := newTestTokenizer(t)
	tests := []struct {
		typ custos.DataType
		in  string
	}{
		{custos.TypeCNMobile, "13812345678"},
		{custos.TypeCNMobile, "138-1234-5678"},
		{custos.TypeCNID, "110101199003071234"},
		{custos.TypeBankCard, "6222 0212 3456 7890"},
		{custos.TypeCNName, "张三明"},
		{custos.TypeCNPassport, "E12345678"},
		{custos.TypeEmail, "Zhang.San@example.com"},
		{custos.TypeFlightPNR, "abc123"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.in, func(t *testing.T) {
			got := tk.FormatToken(tt.typ, tt.in)
			if got == tt.in {
				t.Fatalf("token equals input")
			}
			if again := tk.FormatToken(tt.typ, tt.in); again != got {
				t.Fatalf("not deterministic: %q vs %q", got, again)
			}
			in, out := []rune(tt.in), []rune(got)
			if len(in) != len(out) {
				t.Fatalf("length %d, want %d (%q)", len(out), len(in), got)
			}
			for i := range in {
				if tt.typ == custos.TypeEmail && i >= strings.IndexByte(tt.in, '@') {
					if in[i] != out[i] {
						t.Fatalf("email domain changed: %q", got)
					}
					continue
				}
				if classOf(in[i]) != classOf(out[i]) {
					t.Fatalf("position %d class %s → %s (%q)", i, classOf(in[i]), classOf(out[i]), got)
				}
			}
		})
	}
}

func TestFormatTokenChecksums(t *testing.T) {
	tk := newTestTokenizer(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 500; i++ {
		id := tk.FormatToken(custos.TypeCNID, "110101"+randDigits(r, 12))
		if !validCNID(id) {
			t.Fatalf("cn_id token %q fails its check character", id)
		}
		card := tk.FormatToken(custos.TypeBankCard, "62"+randDigits(r, 14+r.IntN(3)))
		if !validLuhn(card) {
			t.Fatalf("bank_card token %q fails Luhn", card)
		}
		m := tk.FormatToken(custos.TypeCNMobile, "1"+randDigits(r, 10))
		if m[0] != '1' || len(m) != 11 {
			t.Fatalf("mobile token %q", m)
		}
	}
	// Joinable across layouts: the digits are the same.
	a := tk.FormatToken(custos.TypeCNMobile, "13812345678")
	b := tk.FormatToken(custos.TypeCNMobile, "138 1234 5678")
	if strings.ReplaceAll(b, " ", "") != a {
		t.Errorf("layouts disagree: %q vs %q", a, b)
	}
	if c := tk.FormatToken(custos.TypeCNMobile, "+86 138 1234 5678"); c != "+86 "+b {
		t.Errorf("with country code %q, without %q", c, b)
	}
}

func validCNID(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * cnIDWeights[i]
	}
	return s[17] == cnIDCheck[sum%11]
}

func validLuhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func TestGeneralize(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	m := &Masker{Now: func() time.Time { return now }}
	tests := []struct {
		tr   Transform
		typ  custos.DataType
		in   string
		want string
	}{
		{TransformGeneralize, custos.TypeDateOfBirth, "1990-03-07", "1990"},
		{TransformGeneralize, custos.TypeDateOfBirth, "1990年3月7日", "1990"},
		{TransformGeneralize, custos.TypeDateOfBirth, "19900307", "1990"},
		{TransformGeneralize, custos.TypeDateOfBirth, "not a date", "**********"},
		{TransformAgeBand, custos.TypeDateOfBirth, "1990-03-07", "30-39"},
		{TransformAgeBand, custos.TypeDateOfBirth, "1996-11-30", "20-29"}, // 29 until tomorrow
		{TransformAgeBand, custos.TypeDateOfBirth, "2016-01-01", "0-13"},
		{TransformAgeBand, custos.TypeDateOfBirth, "2010-01-01", "14-19"},
		{TransformAgeBand, custos.TypeCNID, "110101199003071234", "30-39"},
		{TransformGeneralize, custos.TypeGeoCoord, "39.90423,116.40739", "39.905,116.405"},
		{TransformGeneralize, custos.TypeGeoCoord, "-33.8688,151.2093", "-33.865,151.205"},
		{TransformGeneralize, custos.TypeCNAddress, "北京市海淀区中关村大街1号", "北京市海淀区"},
		{TransformGeneralize, custos.TypeCNID, "110101199003071234", "110101"},
		{TransformRedact, custos.TypeCNName, "张三", "**"},
		{TransformPartial, custos.TypeCNMobile, "13812345678", "138****5678"},
		{TransformNone, custos.TypeCNMobile, "13812345678", "13812345678"},
	}
	for _, tt := range tests {
		t.Run(string(tt.tr)+"/"+tt.in, func(t *testing.T) {
			got, err := m.Apply(tt.tr, tt.typ, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := m.Apply(TransformNullify, custos.TypeCNMobile, "13812345678"); err != ErrNull {
		t.Errorf("nullify: %v", err)
	}
	if _, err := m.Apply(TransformToken, custos.TypeCNMobile, "13812345678"); err == nil {
		t.Error("token without key succeeded")
	}
	if _, err := m.Apply("bogus", custos.TypeCNMobile, "1"); err == nil {
		t.Error("unknown transform accepted")
	}
}

func TestGeoGridSameCell(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 1000; i++ {
		lat, lon := 39.90+r.Float64()*0.01, 116.40+r.Float64()*0.01
		got, err := GeoGrid(strconv.FormatFloat(lat, 'f', 6, 64)+","+strconv.FormatFloat(lon, 'f', 6, 64), 0.01)
		if err != nil {
			t.Fatal(err)
		}
		if got != "39.905,116.405" {
			t.Fatalf("(%f,%f) → %s", lat, lon, got)
		}
	}
}

func TestSupports(t *testing.T) {
	if Supports(TransformGeneralize, custos.TypeCNMobile) {
		t.Error("generalize cn_mobile claimed")
	}
	if !Supports(TransformPartial, custos.TypeCNMobile) || !Supports(TransformAgeBand, custos.TypeCNID) {
		t.Error("supported pair refused")
	}
}

func FuzzPartial(f *testing.F) {
	for _, s := range []string{"13812345678", "北京市海淀区中关村大街1号", "1990年3月7日", "a@b", "", "\xff\xfe", "市中区"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.Contains(v, "*") {
			return // already masked: a kept character may now be all there is
		}
		for _, typ := range custos.DataTypes {
			got := Partial(typ, v)
			// The property the issue asks for: a value with digits never
			// comes back whole.
			if strings.Count(got, "*") <= strings.Count(v, "*") && strings.ContainsAny(v, "0123456789") {
				t.Fatalf("Partial(%s, %q) returned the value unmasked", typ, v)
			}
		}
	})
}

func FuzzParseBirthDate(f *testing.F) {
	for _, s := range []string{"1990-03-07", "1990年3月7日", "110101199003071234", "", "9999-99-99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := ParseBirthDate(v)
		if err == nil && (d.Year() < 1880 || d.Year() > 2200) {
			t.Fatalf("%q parsed to %v", v, d)
		}
	})
}

func FuzzGeoGrid(f *testing.F) {
	for _, s := range []string{"39.9,116.4", "-90,180", "a,b", ",", "NaN,1", "1e309,2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out, err := GeoGrid(v, 0.01)
		if err == nil && strings.Count(out, ",") != 1 {
			t.Fatalf("%q → %q", v, out)
		}
	})
}
