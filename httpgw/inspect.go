package httpgw

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/policy"
)

// subjectTypes are the identifiers that name a data subject when found in
// a response; other types (names, addresses, dates) are masked and counted
// as data types but are not subjects unless the catalogue marks the field
// as the subject key.
var subjectTypes = map[custos.DataType]bool{
	custos.TypeCNID: true, custos.TypeCNMobile: true, custos.TypeBankCard: true,
	custos.TypeCNPassport: true, custos.TypeHKID: true, custos.TypeTWID: true,
	custos.TypeHKMOPermit: true, custos.TypeEmail: true, custos.TypeIntlPhone: true,
	custos.TypeUSSSN: true, custos.TypeIBAN: true, custos.TypeFlightPNR: true,
}

// maxSubjects bounds the subjects one event records (the event model's
// limit); a response naming more is recorded with the first ones and its
// full record count.
const maxSubjects = 10000

// finding is one value of a response judged to hold personal data.
type finding struct {
	matches []pii.Match // in val; empty with whole
	// whole: the value hides an identifier behind an encoding (base64,
	// URL-encoding) or is a catalogue field: it is masked as a whole.
	whole bool
	typ   custos.DataType // the type when whole
}

// inspection gathers what one response reveals: data types, categories and
// subjects. Raw values live only here, for the request's lifetime.
type inspection struct {
	det      pii.Detector
	ms       []pii.Match
	types    []custos.DataType
	cats     []custos.Category
	subjects []custos.Subject
	seen     map[string]struct{}
	keyBuf   []byte
	fields   map[string]catalog.Field
	hash     func(custos.DataType, string) (string, error)
	hashes   []string
	hints    map[string]custos.DataType // member and column name hints
	// keyed: the catalogue names the subject key of this resource, so
	// only its values are subjects (the phone and e-mail beside a
	// passenger's ID number are the same person's attributes).
	keyed bool
	edits []jsonEdit  // reused by prepareJSON
	kept  []pii.Match // matches of the edits, see keepMatches
	// records is how many records the body holds by its structure (JSON
	// record arrays, CSV rows), -1 when it has none the gateway can
	// count; cut, when set, returns the body with only its first n
	// records, for a limit decision.
	records int
	cut     func(n int) []byte
}

func (in *inspection) reset(fields map[string]catalog.Field) {
	in.keyed = false
	for _, f := range fields {
		if f.SubjectKey {
			in.keyed = true
			break
		}
	}
	in.types = in.types[:0]
	in.cats = in.cats[:0]
	in.subjects = in.subjects[:0]
	in.hashes = in.hashes[:0]
	clear(in.seen)
	in.kept = in.kept[:0]
	in.fields = fields
	in.records, in.cut = -1, nil
}

func (in *inspection) addType(t custos.DataType, cat custos.Category) {
	if t != "" && !slices.Contains(in.types, t) {
		in.types = append(in.types, t)
	}
	if cat == "" {
		cat = custos.CategoryOf(t)
	}
	if cat != "" && !slices.Contains(in.cats, cat) {
		in.cats = append(in.cats, cat)
	}
}

// addSubject records a subject once; values that the blind index cannot
// read for their type are not subjects.
func (in *inspection) addSubject(t custos.DataType, v []byte) {
	in.addKnownSubject(t, v)
}

// addDetected records a subject found by the detectors, unless the
// catalogue names the resource's subject key.
func (in *inspection) addDetected(t custos.DataType, v []byte) {
	if !in.keyed && subjectTypes[t] {
		in.addKnownSubject(t, v)
	}
}

func (in *inspection) addKnownSubject(t custos.DataType, v []byte) {
	if len(in.subjects) >= maxSubjects || len(v) > 256 {
		return
	}
	if in.seen == nil {
		in.seen = make(map[string]struct{})
	}
	// The key is type NUL value, built in a reused buffer: a value seen
	// before costs no allocation; a new one costs one string, shared by
	// the key, the hash and the subject.
	in.keyBuf = append(append(append(in.keyBuf[:0], t...), 0), v...)
	if _, ok := in.seen[string(in.keyBuf)]; ok {
		return
	}
	k := string(in.keyBuf)
	in.seen[k] = struct{}{}
	val := k[len(t)+1:]
	h, err := in.hash(t, val)
	if err != nil {
		return
	}
	in.subjects = append(in.subjects, custos.Subject{Type: t, Value: val})
	in.hashes = append(in.hashes, h)
}

// keepMatches copies ms into the inspection's match store, where they stay
// valid until the next reset (one growing array rather than a slice per
// value).
func (in *inspection) keepMatches(ms []pii.Match) []pii.Match {
	if len(ms) == 0 {
		return nil
	}
	start := len(in.kept)
	in.kept = append(in.kept, ms...)
	return in.kept[start:len(in.kept):len(in.kept)]
}

// judge finds the personal data in one value. field is the catalogue's
// entry for the value's location (path or column), if any; hint is the
// type its member or column name suggests. The returned finding's matches
// slice is only valid until the next call unless copied.
func (in *inspection) judge(val []byte, field catalog.Field, hasField bool, hint custos.DataType) (finding, bool) {
	if len(val) == 0 {
		return finding{}, false
	}
	if hasField {
		in.addType(field.Type, field.EffectiveCategory())
		if field.Type != "" && (field.SubjectKey || (!in.keyed && subjectTypes[field.Type])) {
			in.addSubject(field.Type, val)
		}
		return finding{whole: true, typ: field.Type}, true
	}
	in.ms = in.det.AppendMatches(in.ms[:0], val)
	if len(in.ms) > 0 {
		for _, m := range in.ms {
			in.addType(m.Type, "")
			in.addDetected(m.Type, val[m.Offset:m.Offset+m.Length])
		}
		return finding{matches: in.ms}, true
	}
	if hint != "" && pii.Valid(hint, string(val)) {
		in.addType(hint, "")
		in.addDetected(hint, val)
		return finding{whole: true, typ: hint}, true
	}
	if dec, ok := decodeHidden(val); ok {
		ms := in.det.AppendMatches(in.ms[:0], dec)
		if len(ms) > 0 {
			for _, m := range ms {
				in.addType(m.Type, "")
				in.addDetected(m.Type, dec[m.Offset:m.Offset+m.Length])
			}
			return finding{whole: true, typ: ms[0].Type}, true
		}
	}
	return finding{}, false
}

// decodeHidden undoes the encodings a value may hide an identifier behind:
// URL-encoding (%31%33…) and base64 of printable text.
func decodeHidden(v []byte) ([]byte, bool) {
	if bytes.IndexByte(v, '%') >= 0 {
		if s, err := url.PathUnescape(string(v)); err == nil && s != string(v) {
			return []byte(s), true
		}
	}
	if len(v) >= 12 && len(v)%4 == 0 && len(v) <= 4096 && isBase64(v) {
		dec := make([]byte, base64.StdEncoding.DecodedLen(len(v)))
		n, err := base64.StdEncoding.Decode(dec, v)
		if err == nil && utf8.Valid(dec[:n]) && printable(dec[:n]) {
			return dec[:n], true
		}
	}
	return nil, false
}

func isBase64(v []byte) bool {
	digits := 0
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return digits < len(v) // a run of digits is a number, not base64
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// masker applies one decision's transforms to values.
type valueMasker struct {
	m *mask.Masker
	d policy.Decision
}

func (vm valueMasker) active() bool {
	return vm.d.Effect != custos.DecisionAllow
}

// apply masks one judged value. ok is false when nothing changes.
// nullify is reported as null: the JSON writer writes a null literal.
func (vm valueMasker) apply(val []byte, f finding) (out string, null, ok bool) {
	if !vm.active() {
		return "", false, false
	}
	if f.whole {
		if f.typ == "" {
			return mask.Redact(string(val)), false, true
		}
		s, null := vm.one(f.typ, string(val))
		return s, null, true
	}
	var b []byte
	last := 0
	for _, m := range f.matches {
		b = append(b, val[last:m.Offset]...)
		s, null := vm.one(m.Type, string(val[m.Offset:m.Offset+m.Length]))
		if null {
			s = ""
		}
		b = append(b, s...)
		last = m.Offset + m.Length
	}
	b = append(b, val[last:]...)
	return string(b), false, true
}

func (vm valueMasker) one(t custos.DataType, v string) (string, bool) {
	tr := vm.d.Transform(t)
	if tr == mask.TransformNone {
		return v, false
	}
	s, err := vm.m.Apply(tr, t, v)
	if err == mask.ErrNull {
		return "", true
	}
	if err != nil {
		return mask.Redact(v), false
	}
	return s, false
}
