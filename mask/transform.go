package mask

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/custos-dev/custos"
)

// Transform names a masking transform as policies write it.
type Transform string

const (
	// TransformNone passes the value through (an explicit unmask).
	TransformNone Transform = "none"
	// TransformPartial is Partial: the display convention of the type.
	TransformPartial Transform = "partial"
	// TransformToken is Tokenizer.Token: joinable, reveals nothing of form.
	TransformToken Transform = "token"
	// TransformFormatToken is Tokenizer.FormatToken: joinable, keeps length
	// and character classes.
	TransformFormatToken Transform = "format_token"
	// TransformGeneralize coarsens by type: date_of_birth → year,
	// geo_coord → grid cell, cn_address → district, cn_id → region code.
	TransformGeneralize Transform = "generalize"
	// TransformAgeBand turns a birth date (or a resident ID) into an age band.
	TransformAgeBand Transform = "age_band"
	// TransformRedact stars every character, keeping the length.
	TransformRedact Transform = "redact"
	// TransformNullify removes the value (SQL NULL, JSON null).
	TransformNullify Transform = "nullify"
)

// Transforms lists every transform, for validation and documentation.
var Transforms = []Transform{TransformNone, TransformPartial, TransformToken, TransformFormatToken, TransformGeneralize, TransformAgeBand, TransformRedact, TransformNullify}

// Known reports whether name is a transform.
func Known(name string) bool {
	for _, t := range Transforms {
		if string(t) == name {
			return true
		}
	}
	return false
}

// generalizable lists the types TransformGeneralize reads.
var generalizable = map[custos.DataType]bool{
	custos.TypeDateOfBirth: true, custos.TypeGeoCoord: true, custos.TypeCNAddress: true, custos.TypeCNID: true,
}

// Supports reports whether transform tr can mask values of type t; a policy
// that asks for an unsupported pair fails to load rather than at request
// time.
func Supports(tr Transform, t custos.DataType) bool {
	switch tr {
	case TransformGeneralize:
		return generalizable[t]
	case TransformAgeBand:
		return t == custos.TypeDateOfBirth || t == custos.TypeCNID
	}
	return Known(string(tr))
}

// ErrNull is returned by Apply for TransformNullify: the caller writes its
// own null (SQL NULL, JSON null) rather than an empty string.
var ErrNull = errors.New("mask: value nullified")

// Masker applies transforms by name. The zero value lacks a tokenizer and
// returns an error for token transforms; Now defaults to time.Now,
// GridDegrees to 0.01 and AgeBandWidth to 10.
type Masker struct {
	Tokens       *Tokenizer
	Now          func() time.Time
	GridDegrees  float64
	AgeBandWidth int
}

// Apply masks v of type t with transform tr. Errors never contain v. A
// value that a generalization cannot read is redacted rather than returned
// as is, so that a failed transform never reveals more than asked.
func (m *Masker) Apply(tr Transform, t custos.DataType, v string) (string, error) {
	switch tr {
	case TransformNone:
		return v, nil
	case TransformPartial:
		return Partial(t, v), nil
	case TransformToken, TransformFormatToken:
		if m.Tokens == nil {
			return "", fmt.Errorf("mask: %s needs a token key", tr)
		}
		if tr == TransformToken {
			return m.Tokens.Token(t, v), nil
		}
		return m.Tokens.FormatToken(t, v), nil
	case TransformGeneralize:
		out, err := m.generalize(t, v)
		if err != nil {
			return Redact(v), nil
		}
		return out, nil
	case TransformAgeBand:
		now := time.Now
		if m.Now != nil {
			now = m.Now
		}
		out, err := AgeBand(v, now(), m.AgeBandWidth)
		if err != nil {
			return Redact(v), nil
		}
		return out, nil
	case TransformRedact:
		return Redact(v), nil
	case TransformNullify:
		return "", ErrNull
	}
	return "", fmt.Errorf("mask: unknown transform %q", tr)
}

func (m *Masker) generalize(t custos.DataType, v string) (string, error) {
	switch t {
	case custos.TypeDateOfBirth:
		return BirthYear(v)
	case custos.TypeGeoCoord:
		cell := m.GridDegrees
		if cell == 0 {
			cell = 0.01
		}
		return GeoGrid(v, cell)
	case custos.TypeCNAddress:
		return AddressDistrict(v)
	case custos.TypeCNID:
		return IDRegion(v)
	}
	return "", fmt.Errorf("mask: generalize %s: %w", t, ErrNoGeneralization)
}

// Redact stars every character of v, keeping its length in characters.
func Redact(v string) string {
	return strings.Repeat("*", utf8.RuneCountInString(v))
}
