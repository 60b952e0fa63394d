package scan

import (
	"encoding/json"
	"time"

	"github.com/custos-dev/custos"
)

// Finding is one piece of personal information found in a file, or one
// classified column of a database table. File findings fill Path, Offset,
// Length and possibly Location; database findings fill System, Schema,
// Table, Column and the sampling counts. Value is masked by
// mask.Partial unless the scan was asked to reveal values.
type Finding struct {
	// Files.
	Path     string // "dir/a.csv", or "a.zip!inner/b.csv" for a member of an archive
	Location string // "" for bytes of Path; "Sheet1!B7" or an xlsx/docx part for extracted text
	Offset   int64  // bytes from the start of Path (Location "") or of the extracted text
	Length   int    // bytes
	// Encoding is "" for text read as stored, or the encoding the text
	// was decoded from ("gb18030", "utf-16le", "utf-16be"): Offset and
	// Length are still bytes of the original file, Value is UTF-8.
	Encoding string

	// Databases.
	System      string // the DSN without credentials, e.g. postgres://127.0.0.1:5432/test
	Schema      string
	Table       string
	Column      string
	SQLType     string // the column's declared type
	Sampled     int    // non-null values sampled
	Matched     int    // sampled values in which Type was found
	RowEstimate int64  // the database's estimate of the table's rows; -1 if unknown
	Basis       string // "values", "name" or "values+name": what the classification rests on

	// Both.
	Type       custos.DataType
	Category   custos.Category
	Sensitive  bool    // Category is sensitive under PIPL Art. 28
	Confidence float64 // 0..1
	Value      string  // masked example of the value unless revealed
}

// IsColumn reports whether f describes a database column.
func (f Finding) IsColumn() bool { return f.Table != "" }

// Level is the sensitivity level of f's category: "sensitive" for the
// PIPL Art. 28 sensitive categories, "personal" for other personal
// information.
func (f Finding) Level() string {
	if f.Sensitive {
		return "sensitive"
	}
	return "personal"
}

// fileJSON and columnJSON are the versioned wire forms (docs/scan.md).
// Files and columns have different fields; neither carries zero-valued
// fields of the other.
type fileJSON struct {
	Path       string  `json:"path"`
	Location   string  `json:"location,omitempty"`
	Offset     int64   `json:"offset"`
	Length     int     `json:"length"`
	Encoding   string  `json:"encoding,omitempty"`
	Type       string  `json:"type"`
	Category   string  `json:"category"`
	Level      string  `json:"level"`
	Confidence float64 `json:"confidence"`
	Value      string  `json:"value"`
}

type columnJSON struct {
	System      string  `json:"system"`
	Schema      string  `json:"schema,omitempty"`
	Table       string  `json:"table"`
	Column      string  `json:"column"`
	SQLType     string  `json:"sql_type,omitempty"`
	Type        string  `json:"type"`
	Category    string  `json:"category"`
	Level       string  `json:"level"`
	Confidence  float64 `json:"confidence"`
	Basis       string  `json:"basis"`
	Sampled     int     `json:"sampled"`
	Matched     int     `json:"matched"`
	RowEstimate int64   `json:"row_estimate"`
	Value       string  `json:"value,omitempty"`
}

// MarshalJSON writes the file or the column form of f.
func (f Finding) MarshalJSON() ([]byte, error) {
	if f.IsColumn() {
		return json.Marshal(columnJSON{
			System: f.System, Schema: f.Schema, Table: f.Table, Column: f.Column, SQLType: f.SQLType,
			Type: f.Type, Category: f.Category, Level: f.Level(), Confidence: round3(f.Confidence),
			Basis: f.Basis, Sampled: f.Sampled, Matched: f.Matched, RowEstimate: f.RowEstimate, Value: f.Value,
		})
	}
	return appendFileJSON(nil, f), nil
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// Note is something the scan could not do on one input: a skipped binary
// file, an unreadable or malformed file. Notes never carry file content.
type Note struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"` // NoteSkipped or NoteError
	Message string `json:"message"`
}

const (
	NoteSkipped = "skipped"
	NoteError   = "error"
)

// Summary counts what a scan did.
type Summary struct {
	Files      int                     `json:"files"`  // inputs read, archive members included
	Bytes      int64                   `json:"bytes"`  // bytes scanned (decompressed, extracted)
	Tables     int                     `json:"tables"` // database tables sampled
	Columns    int                     `json:"columns"`
	Skipped    int                     `json:"skipped"`
	Errors     int                     `json:"errors"`
	Findings   int                     `json:"findings"`
	ByType     map[custos.DataType]int `json:"by_type"`
	ByCategory map[custos.Category]int `json:"by_category"`
	Sensitive  int                     `json:"sensitive"`
	Duration   time.Duration           `json:"-"`
	Seconds    float64                 `json:"seconds"`
}

// add counts f in s.
func (s *Summary) add(f Finding) { s.addN(f.Type, f.Category, f.Sensitive, 1) }

// addN counts n findings of type t and category cat.
func (s *Summary) addN(t custos.DataType, cat custos.Category, sensitive bool, n int) {
	if n == 0 {
		return
	}
	if s.ByType == nil {
		s.ByType = map[custos.DataType]int{}
		s.ByCategory = map[custos.Category]int{}
	}
	s.Findings += n
	s.ByType[t] += n
	s.ByCategory[cat] += n
	if sensitive {
		s.Sensitive += n
	}
}

// Merge adds the counts of o to s (a file scan and a database scan in
// one command).
func (s *Summary) Merge(o Summary) {
	s.Files += o.Files
	s.Bytes += o.Bytes
	s.Tables += o.Tables
	s.Columns += o.Columns
	s.Skipped += o.Skipped
	s.Errors += o.Errors
	s.Findings += o.Findings
	s.Sensitive += o.Sensitive
	if s.ByType == nil {
		s.ByType = map[custos.DataType]int{}
		s.ByCategory = map[custos.Category]int{}
	}
	for k, v := range o.ByType {
		s.ByType[k] += v
	}
	for k, v := range o.ByCategory {
		s.ByCategory[k] += v
	}
	s.Duration += o.Duration
}

// tally counts findings by type for a Summary without a map operation
// per finding: the output loop is one goroutine, and on dense text
// (a finding every 50 bytes) four map operations per finding were a
// tenth of its time. A scan meets a few dozen types at most.
type tally []kindCount

type kindCount struct {
	t         custos.DataType
	cat       custos.Category
	sensitive bool
	n, minors int
}

// kind returns the counter of type t, with its category and sensitivity.
func (ts *tally) kind(t custos.DataType) *kindCount {
	for i := range *ts {
		if (*ts)[i].t == t {
			return &(*ts)[i]
		}
	}
	cat := custos.CategoryOf(t)
	*ts = append(*ts, kindCount{t: t, cat: cat, sensitive: custos.Sensitive(cat)})
	return &(*ts)[len(*ts)-1]
}

// addTo adds the counts to s, findings of minors (CategoryMinor, always
// sensitive) apart.
func (ts tally) addTo(s *Summary) {
	for _, k := range ts {
		s.addN(k.t, k.cat, k.sensitive, k.n)
		s.addN(k.t, custos.CategoryMinor, true, k.minors)
	}
}

// Count adds f to s; database scanners call it for each column finding.
func (s *Summary) Count(f Finding) { s.add(f) }

// Sink receives findings and notes in order. A Writer is a Sink.
type Sink interface {
	Finding(Finding) error
	Note(Note) error
}
