package export

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strings"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

// Variant names a meaning-preserving formatting choice that can carry a
// watermark. Each has a few forms; an export writes each value in the form
// its key picks for that value.
type Variant string

const (
	// VariantPhone writes mobiles as 13812345678, 138 1234 5678,
	// +86 138 1234 5678 or +8613812345678 (the choice is keyed by the
	// number).
	VariantPhone Variant = "phone"
	// VariantEmailCase writes an e-mail's domain in lower, capitalized or
	// upper case (domains are case-insensitive; the local part is never
	// touched). Keyed by the address.
	VariantEmailCase Variant = "email_case"
	// VariantDate writes dates (columns of type date_of_birth) as
	// 2006-01-02, 2006/01/02, 20060102 or 2006年1月2日. Keyed by the row's
	// primary identifier.
	VariantDate Variant = "date"
	// VariantTrailingSpace ends the row's last cell with zero, one or two
	// spaces. Keyed by the row's primary identifier.
	VariantTrailingSpace Variant = "trailing_space"
)

// Variants lists every known variant.
var Variants = []Variant{VariantPhone, VariantEmailCase, VariantDate, VariantTrailingSpace}

// Known reports whether v is a variant this build knows.
func (v Variant) Known() bool { return v.forms() > 0 }

func (v Variant) forms() int {
	switch v {
	case VariantPhone, VariantDate:
		return 4
	case VariantEmailCase, VariantTrailingSpace:
		return 3
	}
	return 0
}

// Keyer derives each export's watermark key from the organization's
// secret, so that no per-export key has to be stored: whoever holds the
// secret (the trace command, with the data directory) recomputes it.
type Keyer struct{ secret []byte }

// NewKeyer returns a Keyer for secret (Custos uses the blind-index key).
func NewKeyer(secret []byte) *Keyer { return &Keyer{secret: append([]byte(nil), secret...)} }

// Key returns the watermark key of export id.
func (k *Keyer) Key(exportID string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("custos/export-watermark/v1\x00"))
	m.Write([]byte(exportID))
	return m.Sum(nil)
}

// mark is the keyed pseudo-random number of one value under one purpose.
func mark(key []byte, purpose string, t custos.DataType, normalized string) uint64 {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(t))
	m.Write([]byte{0})
	m.Write([]byte(normalized))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(m.Sum(sum[:0]))
}

// Form returns the form (0..forms-1) that key picks for a value (phone,
// e-mail) or a row (date, trailing space, keyed by the row's primary
// identifier of type t and normalized value n).
func (v Variant) Form(key []byte, t custos.DataType, n string) int {
	return int(mark(key, "variant:"+string(v), t, n) % uint64(v.forms()))
}

// OrderMark is the keyed sort key of a row whose primary identifier is of
// type t with normalized value n. Rows of an order-marked export ascend in
// it.
func OrderMark(key []byte, t custos.DataType, n string) uint64 {
	return mark(key, "order", t, n)
}

// primaryTypes is the preference order of a row's primary identifier:
// the one that keys the row order and the row-level variants. Dropping the
// column that holds it weakens those marks (docs/tracing.md).
var primaryTypes = []custos.DataType{"cn_id", "cn_mobile", "email", "bank_card", "cn_passport", "hk_id", "tw_id", "hkmo_permit", "intl_phone", "us_ssn", "iban", "cn_landline", "imei"}

// PrimaryRank ranks identifier types for choosing a row's primary
// identifier; lower is preferred, -1 means never primary.
func PrimaryRank(t custos.DataType) int {
	for i, p := range primaryTypes {
		if p == t {
			return i
		}
	}
	return -1
}

// FormatPhone writes a normalized 11-digit mobile in form f.
func FormatPhone(n string, f int) string {
	if len(n) != 11 {
		return n
	}
	spaced := n[:3] + " " + n[3:7] + " " + n[7:]
	switch f {
	case 1:
		return spaced
	case 2:
		return "+86 " + spaced
	case 3:
		return "+86" + n
	}
	return n
}

// PhoneForm says which form a mobile as written is in, or -1 when it is
// in none (dashes, 0086, full-width digits: reformatted by someone).
func PhoneForm(raw string) int {
	s := strings.TrimRight(raw, " \t")
	plus := strings.HasPrefix(s, "+86")
	if plus {
		s = strings.TrimPrefix(s, "+86")
	}
	spaced := strings.Contains(s, " ")
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ':
		default:
			return -1
		}
	}
	if digits != 11 {
		return -1
	}
	switch {
	case !plus && !spaced:
		return 0
	case !plus && spaced:
		if strings.TrimLeft(s, " ") != s || len(s) != 13 || s[3] != ' ' || s[8] != ' ' {
			return -1
		}
		return 1
	case plus && spaced:
		if len(s) != 14 || s[0] != ' ' || s[4] != ' ' || s[9] != ' ' {
			return -1
		}
		return 2
	default:
		return 3
	}
}

// FormatEmail writes an e-mail address with its domain in form f.
func FormatEmail(v string, f int) string {
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return v
	}
	local, domain := v[:at], strings.ToLower(v[at+1:])
	switch f {
	case 1:
		labels := strings.Split(domain, ".")
		for i, l := range labels {
			if l != "" {
				labels[i] = strings.ToUpper(l[:1]) + l[1:]
			}
		}
		domain = strings.Join(labels, ".")
	case 2:
		domain = strings.ToUpper(domain)
	}
	return local + "@" + domain
}

// EmailForm says which form an e-mail's domain is written in, or -1.
func EmailForm(raw string) int {
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return -1
	}
	d := strings.TrimSpace(raw[at+1:])
	for f := 0; f < 3; f++ {
		if FormatEmail("x@"+d, f) == "x@"+d {
			return f
		}
	}
	return -1
}

// FormatDate rewrites a date written YYYY-MM-DD (or any form DateForm
// reads) in form f; other text is returned unchanged.
func FormatDate(v string, f int) string {
	y, m, d, ok := parseDate(strings.TrimSpace(v))
	if !ok {
		return v
	}
	switch f {
	case 1:
		return pad(y, 4) + "/" + pad(m, 2) + "/" + pad(d, 2)
	case 2:
		return pad(y, 4) + pad(m, 2) + pad(d, 2)
	case 3:
		return itoa(y) + "年" + itoa(m) + "月" + itoa(d) + "日"
	}
	return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
}

// DateForm says which form a date as written is in, or -1 if the text is
// not a date in one of the forms.
func DateForm(raw string) int {
	s := strings.TrimSpace(raw)
	if _, _, _, ok := parseDate(s); !ok {
		return -1
	}
	for f := 0; f < 4; f++ {
		if FormatDate(s, f) == s {
			return f
		}
	}
	return -1
}

func parseDate(s string) (y, m, d int, ok bool) {
	num := func(s string) (int, bool) {
		if s == "" || len(s) > 4 {
			return 0, false
		}
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	var parts []string
	switch {
	case len(s) == 8 && !strings.ContainsAny(s, "-/年"):
		parts = []string{s[:4], s[4:6], s[6:]}
	case strings.Count(s, "-") == 2:
		parts = strings.Split(s, "-")
	case strings.Count(s, "/") == 2:
		parts = strings.Split(s, "/")
	case strings.HasSuffix(s, "日") && strings.Contains(s, "年") && strings.Contains(s, "月"):
		s = strings.TrimSuffix(s, "日")
		yy, rest, _ := strings.Cut(s, "年")
		mm, dd, _ := strings.Cut(rest, "月")
		parts = []string{yy, mm, dd}
	default:
		return 0, 0, 0, false
	}
	var ok1, ok2, ok3 bool
	y, ok1 = num(parts[0])
	m, ok2 = num(parts[1])
	d, ok3 = num(parts[2])
	if !ok1 || !ok2 || !ok3 || len(parts[0]) != 4 || y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func pad(n, width int) string {
	s := itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// SpaceForm is the number of trailing spaces (0..2) of a row's last cell,
// or -1 for more.
func SpaceForm(raw string) int {
	n := len(raw) - len(strings.TrimRight(raw, " "))
	if n > 2 {
		return -1
	}
	return n
}

// Observed is one identifier found in a leaked record: its type, its
// normalized value (pii.Normalize) and the text as written.
type Observed struct {
	Type       custos.DataType
	Normalized string
	Raw        string
}

// LeakedRecord is what a detector sees of one leaked record.
type LeakedRecord struct {
	IDs []Observed
	// Dates are date cells as written (for VariantDate).
	Dates []string
	// Last is the record's last cell (or line) as written, trailing
	// white space included (for VariantTrailingSpace); HasLast is false
	// when the reader cannot preserve it.
	Last    string
	HasLast bool
}

// Primary returns the record's primary identifier (see PrimaryRank).
func (r *LeakedRecord) Primary() (Observed, bool) {
	best, bestRank := Observed{}, -1
	for _, o := range r.IDs {
		if rk := PrimaryRank(o.Type); rk >= 0 && (bestRank < 0 || rk < bestRank) {
			best, bestRank = o, rk
		}
	}
	return best, bestRank >= 0
}

// Score is a watermark detector's result for one key: how many
// informative observations there were, how many agreed with the key, and
// the probability of at least that much agreement by chance.
type Score struct {
	Observations int     `json:"observations"`
	Agreements   int     `json:"agreements"`
	PValue       float64 `json:"p_value"`
}

// OrderScore scores the order of records (as they appear in the leaked
// file) against key: it counts adjacent pairs that ascend in OrderMark.
// Under a key that did not order them, about half do (Eulerian
// distribution, mean (n-1)/2, variance (n+1)/12).
func OrderScore(key []byte, records []*LeakedRecord) Score {
	var marks []uint64
	for _, r := range records {
		if p, ok := r.Primary(); ok {
			marks = append(marks, OrderMark(key, p.Type, p.Normalized))
		}
	}
	n := len(marks)
	if n < 3 {
		return Score{PValue: 1}
	}
	s := Score{Observations: n - 1}
	for i := 1; i < n; i++ {
		if marks[i] > marks[i-1] {
			s.Agreements++
		}
	}
	mean := float64(n-1) / 2
	sd := math.Sqrt(float64(n+1) / 12)
	z := (float64(s.Agreements) - 0.5 - mean) / sd
	s.PValue = 0.5 * math.Erfc(z/math.Sqrt2)
	if s.Agreements == n-1 {
		// Exact: all ascending has probability 1/n!.
		s.PValue = math.Exp(-lgamma(float64(n + 1)))
	}
	return s
}

// FormatScore scores the formatting of records against key for the
// enabled variants: each value written in one of a variant's forms is an
// observation, agreeing when it is the form the key picks. By chance a
// value agrees with probability 1/forms.
func FormatScore(key []byte, variants []Variant, records []*LeakedRecord) Score {
	var s Score
	logP := 0.0
	type tally struct{ n, k, forms int }
	var tallies []tally
	for _, v := range variants {
		t := tally{forms: v.forms()}
		for _, r := range records {
			switch v {
			case VariantPhone:
				for _, o := range r.IDs {
					if o.Type == "cn_mobile" {
						if f := PhoneForm(o.Raw); f >= 0 {
							t.n++
							if f == v.Form(key, o.Type, o.Normalized) {
								t.k++
							}
						}
					}
				}
			case VariantEmailCase:
				for _, o := range r.IDs {
					if o.Type == "email" {
						if f := EmailForm(o.Raw); f >= 0 {
							t.n++
							if f == v.Form(key, o.Type, o.Normalized) {
								t.k++
							}
						}
					}
				}
			case VariantDate, VariantTrailingSpace:
				p, ok := r.Primary()
				if !ok {
					continue
				}
				want := v.Form(key, p.Type, p.Normalized)
				if v == VariantDate {
					for _, d := range r.Dates {
						if f := DateForm(d); f >= 0 {
							t.n++
							if f == want {
								t.k++
							}
						}
					}
				} else if r.HasLast {
					if f := SpaceForm(r.Last); f >= 0 {
						t.n++
						if f == want {
							t.k++
						}
					}
				}
			}
		}
		tallies = append(tallies, t)
		s.Observations += t.n
		s.Agreements += t.k
	}
	// Combine the variants' exact tails by Fisher's method: for k
	// independent p-values with product x, P(product <= x) =
	// x * sum_{i<k} (-ln x)^i / i!.
	k := 0
	for _, t := range tallies {
		if t.n > 0 {
			logP += math.Log(binomTail(t.n, t.k, 1/float64(t.forms)))
			k++
		}
	}
	if k == 0 {
		s.PValue = 1
		return s
	}
	if logP < -700 || math.IsInf(logP, -1) {
		return s // PValue 0: far beyond chance
	}
	sum, term := 0.0, 1.0
	for i := 0; i < k; i++ {
		if i > 0 {
			term *= -logP / float64(i)
		}
		sum += term
	}
	s.PValue = math.Min(1, math.Exp(logP)*sum)
	return s
}

// binomTail is P(X >= k) for X ~ Binomial(n, p).
func binomTail(n, k int, p float64) float64 {
	if k <= 0 {
		return 1
	}
	sum := 0.0
	for i := k; i <= n; i++ {
		lc := lgamma(float64(n+1)) - lgamma(float64(i+1)) - lgamma(float64(n-i+1))
		sum += math.Exp(lc + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return math.Min(1, sum)
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// normalize is pii.Normalize returning "" on error.
func normalize(t custos.DataType, v string) string {
	n, err := pii.Normalize(t, v)
	if err != nil {
		return ""
	}
	return n
}
