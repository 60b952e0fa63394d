package pii_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

func fuzzSeeds(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add([]byte(contextFor[v.t] + v.value))
	}
	for _, s := range []string{
		"乘客姓名：欧阳娜娜，证件号码：１１０１０５１９４９１２３１００２Ｘ，联系电话：+86-138-0013-8000",
		"收件人：张三 手机 1 3 8 0 0 1 3 8 0 0 0 收货地址：南山区科技园路88号A座1201室；",
		"ORDER13800138000 SF13800138000 3bd06d57-29c3-4d8e-a247-046921510117 ::ffff:1.2.3.4 a@b.co",
		"IBAN GB82 WEST 1234 5698 7654 32 HKID A123456(3) 京A·12345 39.904200, 116.407400",
		"一三八零零一三八零零零@qq.com 出生日期：1990年3月7日 PNR: MXQ7KZ",
	} {
		f.Add([]byte(s))
	}
}

// FuzzFind: Find never panics; matches are in bounds, ordered, disjoint,
// of known types, confidences in range, and each matched span is, on its
// own, a valid value of its type.
func FuzzFind(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, text []byte) {
		var d pii.Detector
		sentinel := pii.Match{Type: "sentinel", Offset: -1}
		ms := d.AppendMatches([]pii.Match{sentinel}, text)
		if ms[0] != sentinel {
			t.Fatalf("AppendMatches changed dst[0]: %v", ms[0])
		}
		end := 0
		for _, m := range ms[1:] {
			if m.Offset < end || m.Length <= 0 || m.Offset+m.Length > len(text) || m.Length > pii.MaxMatchLen {
				t.Fatalf("bad span %+v (previous end %d, len %d)", m, end, len(text))
			}
			end = m.Offset + m.Length
			if !custos.KnownType(m.Type) || m.Confidence < pii.MinConfidence || m.Confidence > 1 {
				t.Fatalf("bad match %+v", m)
			}
			span := string(text[m.Offset:end])
			if !utf8.ValidString(span) {
				t.Fatalf("%s span %q splits a character", m.Type, span)
			}
			if !pii.Valid(m.Type, span) {
				t.Fatalf("%s span %q is not Valid on its own (in %q)", m.Type, span, text)
			}
			if _, err := pii.Normalize(m.Type, span); err != nil {
				t.Fatalf("%s span %q does not normalize: %v", m.Type, span, err)
			}
		}
	})
}

// FuzzNormalize: Normalize, Valid and Classify never panic; Normalize
// returns something or an error, and its errors never carry the value;
// Classify's matches lie within the value.
func FuzzNormalize(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.t, v.value)
	}
	f.Add("cn_mobile", "+86 １３８-0013-八000")
	f.Fuzz(func(t *testing.T, typ, v string) {
		pii.Valid(typ, v)
		for _, m := range pii.Classify(v) {
			if m.Offset < 0 || m.Offset+m.Length > len(v) {
				t.Fatalf("Classify(%q): match %+v out of bounds", v, m)
			}
		}
		out, err := pii.Normalize(typ, v)
		if err != nil {
			if len(v) >= 6 && strings.Contains(err.Error(), v) {
				t.Fatalf("error %q carries the value", err)
			}
			return
		}
		if out == "" {
			t.Fatalf("Normalize(%q, %q) = empty without error", typ, v)
		}
	})
}
