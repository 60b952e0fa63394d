package pii

import "github.com/custos-dev/custos"

// Match is one piece of personal information found in text. Offset and
// Length are in bytes of the text given to Find. The matched bytes are the
// caller's to read; Match itself holds no copy of the value so that it can
// be logged safely.
type Match struct {
	Type       custos.DataType
	Offset     int
	Length     int
	Confidence float64 // 0..1; see the detector's documentation for its scale
}

// Find returns the personal information in text, ordered by offset.
func Find(text []byte) []Match {
	return nil // replaced by the detector engine
}
