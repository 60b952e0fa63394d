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
	Confidence float64 // 0..1; see docs/discovery.md for the scale
}

// MaxMatchLen bounds the length in bytes of any match. A caller that
// streams input in chunks overlaps consecutive chunks by at least this
// much to find matches that straddle a chunk boundary.
const MaxMatchLen = 512

// MinConfidence is the lowest confidence Find reports. Candidates that a
// negative context (order, tracking, serial numbers) pushes below it are
// dropped.
const MinConfidence = 0.5

// Find returns the personal information in text, ordered by offset.
// Matches do not overlap. Find is safe for concurrent use; a caller on a
// hot path that wants no allocation keeps a Detector and a Match slice
// and calls AppendMatches.
func Find(text []byte) []Match {
	var d Detector
	return d.AppendMatches(nil, text)
}
