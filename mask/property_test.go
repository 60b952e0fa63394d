package mask

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/custos-dev/custos"
)

// propertyValues is how many random values of each type the property
// tests draw. The generators are seeded, so a failure reproduces.
const propertyValues = 2000

// typeGen draws realistic values of one type, in the layouts found in
// business systems (separators, country codes, Chinese dates), and says
// how many of a value's secret characters the partial convention may show.
type typeGen struct {
	typ    custos.DataType
	draw   func(r *rand.Rand) string
	budget func(v string) int
}

func randHan(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x4E00 + r.IntN(0x9FA5-0x4E00+1)))
	}
	return b.String()
}

func randLower(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

var addressPrefixes = []string{"北京市朝阳区", "上海市浦东新区", "广东省深圳市南山区", "四川省成都市武侯区", "浙江省杭州市淳安县", "内蒙古自治区呼和浩特市新城区"}

var typeGens = []typeGen{
	{custos.TypeCNMobile, func(r *rand.Rand) string {
		n := "1" + randDigits(r, 10)
		switch r.IntN(3) {
		case 0:
			return n[:3] + "-" + n[3:7] + "-" + n[7:]
		case 1:
			return "+86 " + n
		}
		return n
	}, func(v string) int {
		if strings.HasPrefix(v, "+86") {
			return 2 + 3 + 4 // the country code is not the person's
		}
		return 3 + 4
	}},
	{custos.TypeCNID, func(r *rand.Rand) string {
		v := randDigits(r, 17)
		if r.IntN(11) == 0 {
			return v + "X"
		}
		return v + randDigits(r, 1)
	}, func(string) int { return 6 + 4 }},
	{custos.TypeBankCard, func(r *rand.Rand) string {
		v := "62" + randDigits(r, 14+r.IntN(4))
		if r.IntN(2) == 0 {
			var b strings.Builder
			for i, c := range v {
				if i > 0 && i%4 == 0 {
					b.WriteByte(' ')
				}
				b.WriteRune(c)
			}
			return b.String()
		}
		return v
	}, func(string) int { return 4 }},
	{custos.TypeCNLandline, func(r *rand.Rand) string {
		return "0" + randDigits(r, 2) + "-" + randDigits(r, 8)
	}, func(string) int { return 3 + 2 }},
	{custos.TypeEmail, func(r *rand.Rand) string {
		return randLower(r, 1+r.IntN(12)) + "@" + randLower(r, 2+r.IntN(6)) + ".com"
	}, func(v string) int {
		at := strings.LastIndexByte(v, '@')
		keep := 0
		if at >= 3 {
			keep = 1
		}
		return keep + secretCount(custos.TypeEmail, v[at:]) // the domain is kept
	}},
	{custos.TypeCNName, func(r *rand.Rand) string {
		return randHan(r, 1+r.IntN(4))
	}, func(v string) int {
		switch n := utf8.RuneCountInString(v); {
		case n <= 1:
			return 0
		case n == 2:
			return 1
		}
		return 2
	}},
	{custos.TypeCNAddress, func(r *rand.Rand) string {
		return addressPrefixes[r.IntN(len(addressPrefixes))] + randHan(r, 1+r.IntN(3)) + "路" + randDigits(r, 1+r.IntN(3)) + "号"
	}, func(v string) int {
		for _, p := range addressPrefixes {
			if strings.HasPrefix(v, p) {
				return utf8.RuneCountInString(p)
			}
		}
		return 0
	}},
	{custos.TypeDateOfBirth, func(r *rand.Rand) string {
		y, m, d := 1930+r.IntN(90), 1+r.IntN(12), 1+r.IntN(28)
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%d年%d月%d日", y, m, d)
		}
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	}, func(string) int { return 4 }},
	{custos.TypeIPv4, func(r *rand.Rand) string {
		return fmt.Sprintf("%d.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
	}, func(v string) int {
		p := strings.Split(v, ".")
		return len(p[0]) + len(p[1])
	}},
	{custos.TypeCNPassport, func(r *rand.Rand) string {
		return "E" + randDigits(r, 8)
	}, func(v string) int { return 2 * (len(v) / 4) }},
}

// secret reports whether r carries information about the person, as
// opposed to a separator the masked value keeps to look like its type.
func secret(t custos.DataType, r rune) bool {
	if t == custos.TypeDateOfBirth && (r == '年' || r == '月' || r == '日') {
		return false
	}
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || unicode.Is(unicode.Han, r)
}

func secretCount(t custos.DataType, v string) int {
	n := 0
	for _, r := range v {
		if secret(t, r) {
			n++
		}
	}
	return n
}

// TestPartialPropertyEveryType: for every type, over random values, the
// partial mask keeps the length in characters and every separator, each
// other character is the original or a star, and no more of the original's
// characters show than its convention keeps.
func TestPartialPropertyEveryType(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, g := range typeGens {
		t.Run(string(g.typ), func(t *testing.T) {
			for range propertyValues {
				v := g.draw(r)
				got := Partial(g.typ, v)
				in, out := []rune(v), []rune(got)
				if len(in) != len(out) {
					t.Fatalf("%q → %q: %d characters, want %d", v, got, len(out), len(in))
				}
				shown := 0
				for i := range in {
					switch {
					case !secret(g.typ, in[i]) && out[i] != in[i]:
						t.Fatalf("%q → %q: separator at %d changed", v, got, i)
					case out[i] != in[i] && out[i] != '*':
						t.Fatalf("%q → %q: position %d is neither the original nor a star", v, got, i)
					case secret(g.typ, in[i]) && out[i] == in[i]:
						shown++
					}
				}
				if b := g.budget(v); shown > b {
					t.Fatalf("%q → %q shows %d characters, the convention keeps %d", v, got, shown, b)
				}
				if shown == secretCount(g.typ, v) {
					t.Fatalf("%q → %q: nothing masked", v, got)
				}
			}
		})
	}
}

var tokenForm = regexp.MustCompile(`^tok_[0-9a-f]{32}$`)

// TestTokenPropertyEveryType: a hex token has its fixed form whatever the
// value, never contains the value's digits, and differs between values.
func TestTokenPropertyEveryType(t *testing.T) {
	tk := newTestTokenizer(t)
	r := rand.New(rand.NewPCG(13, 14))
	for _, g := range typeGens {
		t.Run(string(g.typ), func(t *testing.T) {
			seen := map[string]string{}
			for range propertyValues {
				v := g.draw(r)
				got := tk.Token(g.typ, v)
				if !tokenForm.MatchString(got) {
					t.Fatalf("%q → %q: not tok_ and 32 hex digits", v, got)
				}
				digits := strings.Map(func(r rune) rune {
					if '0' <= r && r <= '9' {
						return r
					}
					return -1
				}, v)
				if len(digits) >= 8 && strings.Contains(got, digits) {
					t.Fatalf("%q → %q contains its digits", v, got)
				}
				if prev, ok := seen[got]; ok && prev != v {
					t.Fatalf("%q and %q share token %s", prev, v, got)
				}
				seen[got] = v
			}
		})
	}
}

// TestFormatTokenPropertyEveryType: a format token keeps the length and
// each position's character class (digit, lower, upper, Han, separator),
// and agrees with the original at a secret position no more often than
// chance: a transform that kept the head or tail of the value would agree
// at 30-60 % of the digits, a uniform draw at about 10 %.
func TestFormatTokenPropertyEveryType(t *testing.T) {
	tk := newTestTokenizer(t)
	r := rand.New(rand.NewPCG(15, 16))
	for _, g := range typeGens {
		t.Run(string(g.typ), func(t *testing.T) {
			same, total := 0, 0
			for range propertyValues {
				v := g.draw(r)
				got := tk.FormatToken(g.typ, v)
				// A value of a few letters can be drawn as itself by
				// chance (a one-letter e-mail local part: 1 in 26); a
				// longer one coming back whole means it was kept.
				in, out := []rune(v), []rune(got)
				if len(in) != len(out) {
					t.Fatalf("%q → %q: %d characters, want %d", v, got, len(out), len(in))
				}
				end := len(in)
				if g.typ == custos.TypeEmail {
					end = utf8.RuneCountInString(v[:strings.LastIndexByte(v, '@')]) // the domain is kept
				}
				if got == v && secretCount(g.typ, string(in[:end])) >= 6 {
					t.Fatalf("%q came back unchanged", v)
				}
				for i := range end {
					ci, co := classOf(in[i]), classOf(out[i])
					if g.typ == custos.TypeCNID && i == len(in)-1 && (ci == "digit" || in[i] == 'X') && (co == "digit" || out[i] == 'X') {
						ci = co // the check character is a digit or X
					}
					if ci != co {
						t.Fatalf("%q → %q: position %d %s → %s", v, got, i, ci, co)
					}
					if !secret(g.typ, in[i]) {
						continue
					}
					if g.typ == custos.TypeCNMobile && i <= mobileLeadingOne(v) {
						continue // the country code and the leading 1 are kept by promise
					}
					total++
					if in[i] == out[i] {
						same++
					}
				}
			}
			if rate := float64(same) / float64(total); rate > 0.15 {
				t.Errorf("format tokens agree with the original at %.1f %% of %d secret positions (chance is about 10 %% for digits)", 100*rate, total)
			}
		})
	}
}

// mobileLeadingOne is the index of the number's leading 1 after any
// country code; format tokens keep both.
func mobileLeadingOne(v string) int {
	if strings.HasPrefix(v, "+86 ") {
		return 4
	}
	return 0
}

var ageBandForm = regexp.MustCompile(`^(0-13|14-19|[1-9][0-9]*0-[1-9][0-9]*9)$`)

// TestOtherTransformsPropertyEveryType runs the remaining transforms over
// every type's random values through Masker.Apply: redact keeps only the
// length, nullify gives nothing, generalize keeps exactly its coarse part
// (and redacts types it cannot read), age_band gives a band and nothing of
// the date, none is the explicit unmask.
func TestOtherTransformsPropertyEveryType(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	m := &Masker{Tokens: newTestTokenizer(t), Now: func() time.Time { return now }}
	r := rand.New(rand.NewPCG(17, 18))
	for _, g := range typeGens {
		t.Run(string(g.typ), func(t *testing.T) {
			for range propertyValues {
				v := g.draw(r)
				n := utf8.RuneCountInString(v)
				if got, err := m.Apply(TransformRedact, g.typ, v); err != nil || got != strings.Repeat("*", n) {
					t.Fatalf("redact %q → %q, %v", v, got, err)
				}
				if got, err := m.Apply(TransformNullify, g.typ, v); !errors.Is(err, ErrNull) || got != "" {
					t.Fatalf("nullify %q → %q, %v", v, got, err)
				}
				if got, err := m.Apply(TransformNone, g.typ, v); err != nil || got != v {
					t.Fatalf("none %q → %q, %v", v, got, err)
				}
				got, err := m.Apply(TransformGeneralize, g.typ, v)
				if err != nil {
					t.Fatalf("generalize %q: %v", v, err)
				}
				var want string
				switch g.typ {
				case custos.TypeDateOfBirth:
					want = v[:4]
				case custos.TypeCNID:
					want = v[:6]
				case custos.TypeCNAddress:
					for _, p := range addressPrefixes {
						if strings.HasPrefix(v, p) {
							want = p
						}
					}
				default:
					want = strings.Repeat("*", n)
				}
				if got != want {
					t.Fatalf("generalize %s %q → %q, want %q", g.typ, v, got, want)
				}
				got, err = m.Apply(TransformAgeBand, g.typ, v)
				if err != nil {
					t.Fatalf("age_band %q: %v", v, err)
				}
				switch g.typ {
				case custos.TypeDateOfBirth, custos.TypeCNID:
					if !ageBandForm.MatchString(got) {
						// A resident ID of random digits has no valid
						// birth date inside; it is redacted instead.
						if got != strings.Repeat("*", n) {
							t.Fatalf("age_band %q → %q", v, got)
						}
					}
				default:
					if got != strings.Repeat("*", n) {
						t.Fatalf("age_band %s %q → %q, want it redacted", g.typ, v, got)
					}
				}
			}
		})
	}
}

// TestGeoGridProperty: over random points anywhere, the grid keeps no
// more precision than its cell (three decimals for 0.01°), and every other
// point of the same cell gives the same answer.
func TestGeoGridProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	const cell = 0.01
	for range propertyValues {
		lat, lon := -89+r.Float64()*178, -179+r.Float64()*358
		// Another point of the same cell, away from its edges so that
		// decimal formatting cannot move it across one.
		lat2 := math.Floor(lat/cell)*cell + cell*(0.1+0.8*r.Float64())
		lon2 := math.Floor(lon/cell)*cell + cell*(0.1+0.8*r.Float64())
		lat = math.Floor(lat/cell)*cell + cell*(0.1+0.8*r.Float64())
		lon = math.Floor(lon/cell)*cell + cell*(0.1+0.8*r.Float64())
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
		a, err := GeoGrid(f(lat)+","+f(lon), cell)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GeoGrid(f(lat2)+","+f(lon2), cell)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("(%s,%s) → %s but (%s,%s) in the same cell → %s", f(lat), f(lon), a, f(lat2), f(lon2), b)
		}
		for _, part := range strings.Split(a, ",") {
			if _, frac, ok := strings.Cut(part, "."); ok && len(frac) > 3 {
				t.Fatalf("%s keeps %d decimals", a, len(frac))
			}
		}
	}
}
