package scan

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/custos-dev/custos"
)

// Formats are the output formats a Writer renders.
var Formats = []string{"table", "json", "jsonl", "csv", "sarif"}

// Writer renders findings as they arrive and the summary at the end. It
// streams: memory does not grow with the number of findings. Notes go to
// the notes writer (stderr in the CLI) in every format but json, which
// carries them in the document.
type Writer struct {
	format  string
	w       *bufio.Writer
	notes   io.Writer
	verbose bool
	n       int
	csv     *csv.Writer
	version string
	noteBuf []Note
	buf     []byte

	lastPath string
	pathJSON []byte
}

// NewWriter returns a Writer of format to out. notes receives error notes
// (and skipped-file notes when verbose) for the formats that have no
// place for them. version names the tool in SARIF.
func NewWriter(out, notes io.Writer, format, version string, verbose bool) (*Writer, error) {
	w := &Writer{format: format, w: bufio.NewWriterSize(out, 64<<10), notes: notes, verbose: verbose, version: version}
	switch format {
	case "table", "jsonl":
	case "json":
		w.w.WriteString(`{"version":1,"findings":[`)
	case "csv":
		w.csv = csv.NewWriter(w.w)
		w.csv.Write(csvHeader)
	case "sarif":
		w.sarifHead()
	default:
		return nil, fmt.Errorf("scan: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
	return w, nil
}

var csvHeader = []string{"path", "location", "offset", "length", "system", "schema", "table", "column", "sql_type",
	"type", "category", "level", "confidence", "basis", "sampled", "matched", "row_estimate", "value"}

// Finding writes one finding.
func (w *Writer) Finding(f Finding) error {
	w.n++
	switch w.format {
	case "table":
		w.tableRow(f)
	case "jsonl", "json":
		if w.format == "json" {
			if w.n > 1 {
				w.buf = append(w.buf[:0], ",\n"...)
			} else {
				w.buf = append(w.buf[:0], '\n')
			}
		} else {
			w.buf = w.buf[:0]
		}
		if f.IsColumn() {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			w.buf = append(w.buf, b...)
		} else {
			// Findings of one file come together: quote its path once.
			if f.Path != w.lastPath {
				w.lastPath = f.Path
				w.pathJSON = appendJSONString(append(w.pathJSON[:0], `{"path":`...), f.Path)
			}
			w.buf = appendFileJSONRest(append(w.buf, w.pathJSON...), f)
		}
		if w.format == "jsonl" {
			w.buf = append(w.buf, '\n')
		}
		w.w.Write(w.buf)
	case "csv":
		rec := []string{f.Path, f.Location, "", "", f.System, f.Schema, f.Table, f.Column, f.SQLType,
			f.Type, f.Category, f.Level(), ftoa(f.Confidence), f.Basis, "", "", "", f.Value}
		if f.IsColumn() {
			rec[14], rec[15], rec[16] = strconv.Itoa(f.Sampled), strconv.Itoa(f.Matched), strconv.FormatInt(f.RowEstimate, 10)
		} else {
			rec[2], rec[3] = strconv.FormatInt(f.Offset, 10), strconv.Itoa(f.Length)
		}
		w.csv.Write(rec)
	case "sarif":
		w.sarifResult(f)
	}
	if w.w.Buffered() > 32<<10 {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return fmt.Errorf("scan: write: %w", err)
		}
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("scan: write: %w", err)
	}
	return nil
}

// Note reports a note: errors always, skipped files when verbose.
func (w *Writer) Note(n Note) error {
	if w.format == "json" {
		w.noteBuf = append(w.noteBuf, n)
		return nil
	}
	if n.Kind == NoteSkipped && !w.verbose {
		return nil
	}
	if w.notes != nil {
		fmt.Fprintf(w.notes, "%s: %s: %s\n", n.Kind, n.Path, n.Message)
	}
	return nil
}

// Close writes the summary (table, json) or closes the document (sarif)
// and flushes.
func (w *Writer) Close(sum Summary) error {
	switch w.format {
	case "table":
		w.tableSummary(sum)
	case "json":
		w.w.WriteString("\n],\"notes\":")
		notes := w.noteBuf
		if notes == nil {
			notes = []Note{}
		}
		b, _ := json.Marshal(notes)
		w.w.Write(b)
		w.w.WriteString(",\"summary\":")
		sum.Seconds = roundSeconds(sum.Duration)
		b, _ = json.Marshal(summaryJSON(sum))
		w.w.Write(b)
		w.w.WriteString("}\n")
	case "sarif":
		w.w.WriteString("\n]}]}\n")
	}
	return w.flush()
}

func roundSeconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

func summaryJSON(s Summary) Summary {
	if s.ByType == nil {
		s.ByType = map[string]int{}
		s.ByCategory = map[string]int{}
	}
	return s
}

func ftoa(x float64) string { return strconv.FormatFloat(round3(x), 'f', -1, 64) }

func (w *Writer) tableRow(f Finding) {
	if w.n == 1 {
		if f.IsColumn() {
			fmt.Fprintf(w.w, "%-40s %-14s %-18s %-9s %5s %9s %10s  %s\n", "TABLE.COLUMN", "TYPE", "CATEGORY", "LEVEL", "CONF", "MATCHED", "ROWS", "EXAMPLE")
		} else {
			fmt.Fprintf(w.w, "%-40s %10s %4s %-14s %5s  %s\n", "PATH", "OFFSET", "LEN", "TYPE", "CONF", "VALUE")
		}
	}
	if f.IsColumn() {
		name := f.Table + "." + f.Column
		if f.Schema != "" {
			name = f.Schema + "." + name
		}
		rows := "?"
		if f.RowEstimate >= 0 {
			rows = strconv.FormatInt(f.RowEstimate, 10)
		}
		fmt.Fprintf(w.w, "%-40s %-14s %-18s %-9s %5.2f %9s %10s  %s\n", name, f.Type, f.Category, f.Level(), f.Confidence,
			fmt.Sprintf("%d/%d", f.Matched, f.Sampled), rows, f.Value)
		return
	}
	p := f.Path
	if f.Location != "" {
		p += " [" + f.Location + "]"
	}
	fmt.Fprintf(w.w, "%-40s %10d %4d %-14s %5.2f  %s\n", p, f.Offset, f.Length, f.Type, f.Confidence, f.Value)
}

func (w *Writer) tableSummary(s Summary) {
	if w.n == 0 {
		fmt.Fprintln(w.w, "no personal information found")
	}
	fmt.Fprintln(w.w)
	fmt.Fprintln(w.w, "SUMMARY")
	if s.Tables > 0 {
		fmt.Fprintf(w.w, "  tables %d, columns %d\n", s.Tables, s.Columns)
	}
	if s.Files > 0 || s.Tables == 0 {
		mb := float64(s.Bytes) / 1e6
		rate := 0.0
		if sec := s.Duration.Seconds(); sec > 0 {
			rate = mb / sec
		}
		fmt.Fprintf(w.w, "  files %d, %.1f MB scanned, %d skipped, %d errors\n", s.Files, mb, s.Skipped, s.Errors)
		fmt.Fprintf(w.w, "  time %s (%.1f MB/s)\n", s.Duration.Round(time.Millisecond), rate)
	} else {
		fmt.Fprintf(w.w, "  %d errors, time %s\n", s.Errors, s.Duration.Round(time.Millisecond))
	}
	fmt.Fprintf(w.w, "  findings %d (%d in sensitive categories)\n", s.Findings, s.Sensitive)
	if len(s.ByType) > 0 {
		fmt.Fprintln(w.w, "  by type:")
		for _, k := range sortedCounts(s.ByType) {
			cat := custos.CategoryOf(k)
			level := "personal"
			if custos.Sensitive(cat) {
				level = "sensitive"
			}
			fmt.Fprintf(w.w, "    %-14s %8d  %s, %s\n", k, s.ByType[k], cat, level)
		}
		fmt.Fprintln(w.w, "  by category:")
		for _, k := range sortedCounts(s.ByCategory) {
			fmt.Fprintf(w.w, "    %-18s %8d\n", k, s.ByCategory[k])
		}
	}
}

// sortedCounts orders keys by count, then name.
func sortedCounts(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// SARIF 2.1.0: one rule per data type of the vocabulary, so that the
// rules are known before the first result and the output streams.
func (w *Writer) sarifHead() {
	type text struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription text           `json:"shortDescription"`
		Properties       map[string]any `json:"properties"`
	}
	rules := make([]rule, len(custos.DataTypes))
	for i, t := range custos.DataTypes {
		cat := custos.CategoryOf(t)
		level := "personal"
		if custos.Sensitive(cat) {
			level = "sensitive"
		}
		rules[i] = rule{ID: t, Name: t, ShortDescription: text{fmt.Sprintf("Personal information: %s (%s, %s)", t, cat, level)},
			Properties: map[string]any{"category": cat, "level": level}}
	}
	driver := map[string]any{
		"name":           "custos",
		"informationUri": "https://github.com/custos-dev/custos",
		"version":        w.version,
		"rules":          rules,
	}
	tool, _ := json.Marshal(map[string]any{"driver": driver})
	w.w.WriteString(`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":`)
	w.w.Write(tool)
	w.w.WriteString(`,"columnKind":"utf16CodeUnits","results":[`)
}

func (w *Writer) sarifResult(f Finding) {
	idx := -1
	for i, t := range custos.DataTypes {
		if t == f.Type {
			idx = i
		}
	}
	level := "warning"
	if f.Sensitive {
		level = "error"
	}
	res := map[string]any{
		"ruleId":  f.Type,
		"level":   level,
		"message": map[string]string{"text": fmt.Sprintf("%s (%s, %s) %s", f.Type, f.Category, f.Level(), f.Value)},
	}
	if idx >= 0 {
		res["ruleIndex"] = idx
	}
	props := map[string]any{"confidence": round3(f.Confidence), "category": f.Category, "value": f.Value}
	if f.IsColumn() {
		name := f.Table + "." + f.Column
		if f.Schema != "" {
			name = f.Schema + "." + name
		}
		res["locations"] = []any{map[string]any{
			"logicalLocations": []any{map[string]string{"fullyQualifiedName": name, "kind": "member"}},
		}}
		props["system"], props["sampled"], props["matched"], props["row_estimate"], props["basis"] =
			f.System, f.Sampled, f.Matched, f.RowEstimate, f.Basis
	} else {
		// An archive member or extracted text has no byte region in the
		// artifact itself: the region is given only for plain files, and
		// the member and offset go in the properties.
		file, member, _ := strings.Cut(f.Path, "!")
		uri := (&url.URL{Path: filepath.ToSlash(file)}).String()
		if filepath.IsAbs(file) {
			uri = (&url.URL{Scheme: "file", Path: filepath.ToSlash(file)}).String()
		}
		phys := map[string]any{"artifactLocation": map[string]string{"uri": uri}}
		if member == "" && f.Location == "" {
			phys["region"] = map[string]int64{"byteOffset": f.Offset, "byteLength": int64(f.Length)}
		}
		res["locations"] = []any{map[string]any{"physicalLocation": phys}}
		props["path"], props["offset"], props["length"] = f.Path, f.Offset, f.Length
		if f.Location != "" {
			props["location"] = f.Location
		}
	}
	res["properties"] = props
	b, _ := json.Marshal(res)
	if w.n > 1 {
		w.w.WriteByte(',')
	}
	w.w.WriteByte('\n')
	w.w.Write(b)
}
