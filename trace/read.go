package trace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/pii"
)

// Format is a leaked file's format.
type Format string

const (
	FormatCSV  Format = "csv"  // comma-, tab-, semicolon- or pipe-separated
	FormatXLSX Format = "xlsx" // every sheet
	FormatJSON Format = "json" // a document, an array, or NDJSON
	FormatText Format = "text" // dumps and chat logs: one record per line
)

// Record is one leaked record (a row, an object, a line) as the detectors
// saw it.
type Record struct {
	export.LeakedRecord
	// Line is the record's position: line (CSV, text), row (XLSX) or
	// object number (JSON), 1-based.
	Line int
}

// MaxLine bounds one line or cell; longer ones are cut (the rest is not
// searched) so that one huge line cannot exhaust memory.
const MaxLine = 1 << 20

// DetectFormat guesses a file's format from its name and first bytes.
func DetectFormat(name string, head []byte) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xlsx", ".xlsm":
		return FormatXLSX
	case ".csv", ".tsv":
		return FormatCSV
	case ".json", ".ndjson", ".jsonl":
		return FormatJSON
	}
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		return FormatXLSX
	}
	h := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(h) > 1 && (h[0] == '{' || h[0] == '[') {
		// "[10:02] name: ..." is a chat log, not JSON: the next token
		// must open a string, object or array.
		next := bytes.TrimLeft(h[1:], " \t\r\n")
		if len(next) > 0 && strings.IndexByte(`"{[}]`, next[0]) >= 0 {
			return FormatJSON
		}
	}
	return FormatText
}

// Read reads the records of r in format f and calls fn for each record
// that holds at least one identifier, in file order. fn must not keep the
// *Record after it returns unless it copies it; Read allocates a new one
// per record, so keeping it is in fact safe.
func Read(ctx context.Context, r io.Reader, f Format, fn func(*Record) error) error {
	x := &extractor{fn: fn}
	var err error
	switch f {
	case FormatCSV:
		err = x.readCSV(ctx, r)
	case FormatXLSX:
		err = x.readXLSX(ctx, r)
	case FormatJSON:
		err = x.readJSON(ctx, r)
	case FormatText:
		err = x.readText(ctx, r)
	default:
		return fmt.Errorf("trace: unknown format %q", f)
	}
	if err != nil {
		return fmt.Errorf("trace: read %s: %w", f, err)
	}
	return nil
}

// extractor turns cells into records with a reused detector.
type extractor struct {
	fn      func(*Record) error
	det     pii.Detector
	matches []pii.Match
	n       int
}

// indexed reports whether identifiers of type t are blind-indexed subjects
// that can be traced.
func indexed(t custos.DataType) bool { return export.PrimaryRank(t) >= 0 }

// record builds a record from cells and hands it on if it has identifiers.
// asText says the cells are free text (dates are looked for in its
// fields).
func (x *extractor) record(line int, cells []string, keepLast, asText bool) error {
	rec := &Record{Line: line}
	for _, c := range cells {
		if len(c) > MaxLine {
			c = c[:MaxLine]
		}
		x.matches = x.det.AppendMatches(x.matches[:0], []byte(c))
		for _, m := range x.matches {
			if !indexed(m.Type) || m.Confidence < pii.MinConfidence {
				continue
			}
			raw := c[m.Offset : m.Offset+m.Length]
			n, err := pii.Normalize(m.Type, raw)
			if err != nil {
				continue
			}
			o := export.Observed{Type: m.Type, Normalized: n}
			if raw != n {
				o.Raw = strings.Clone(raw)
			} else {
				o.Raw = n
			}
			rec.IDs = append(rec.IDs, o)
		}
		if asText {
			for _, f := range strings.FieldsFunc(c, isFieldSep) {
				if export.DateForm(f) >= 0 {
					rec.Dates = append(rec.Dates, strings.Clone(f))
				}
			}
		} else if export.DateForm(c) >= 0 {
			rec.Dates = append(rec.Dates, strings.Clone(c))
		}
	}
	if len(rec.IDs) == 0 {
		return nil
	}
	if keepLast && len(cells) > 0 {
		rec.Last = strings.Clone(cells[len(cells)-1])
		rec.HasLast = true
	}
	x.n++
	return x.fn(rec)
}

func isFieldSep(r rune) bool {
	switch r {
	case ' ', '\t', ',', ';', '|', '，', '；', '：', ':':
		return true
	}
	return false
}

// readCSV reads delimited text. The delimiter is guessed from the first
// line (tab, semicolon, pipe or comma); a malformed line is read as text
// instead of failing the whole file.
func (x *extractor) readCSV(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4096)
	cr := csv.NewReader(br)
	cr.Comma = guessDelimiter(head)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	for {
		if x.n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cells, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// Keep going: leaked files are often hand-edited.
			continue
		}
		if err != nil {
			return err
		}
		if len(cells) > 0 {
			cells[0] = strings.TrimPrefix(cells[0], "\ufeff")
		}
		if err := x.record(line, cells, true, false); err != nil {
			return err
		}
	}
}

func guessDelimiter(head []byte) rune {
	first, _, _ := bytes.Cut(head, []byte("\n"))
	best, bestN := ',', 0
	for _, d := range []rune{',', '\t', ';', '|'} {
		if n := bytes.Count(first, []byte(string(d))); n > bestN {
			best, bestN = d, n
		}
	}
	return best
}

// readText reads one record per line: dumps, logs and pasted chats.
func (x *extractor) readText(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	cell := make([]string, 1)
	for {
		b, err := readLine(br)
		if len(b) > 0 || err == nil {
			line++
			if line%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			s := strings.TrimRight(string(b), "\r")
			if line == 1 {
				s = strings.TrimPrefix(s, "\ufeff")
			}
			if !utf8.ValidString(s) {
				s = strings.ToValidUTF8(s, "\ufffd")
			}
			cell[0] = s
			if err := x.record(line, cell, true, true); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readLine reads a line without its newline, cutting it at MaxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(out)+len(frag) <= MaxLine {
			out = append(out, frag...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(out) > 0 && out[len(out)-1] == '\n' {
			out = out[:len(out)-1]
		}
		return out, err
	}
}

// readXLSX reads every sheet, row by row. A panic inside the XLSX library
// on a malformed file is turned into an error: one bad file must not take
// the process down.
func (x *extractor) readXLSX(ctx context.Context, r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed XLSX file (%v)", p)
		}
	}()
	f, err := excelize.OpenReader(r)
	if err != nil {
		return err
	}
	defer f.Close()
	line := 0
	for _, sheet := range f.GetSheetList() {
		rows, err := f.Rows(sheet)
		if err != nil {
			return err
		}
		for rows.Next() {
			line++
			if line%4096 == 0 {
				if err := ctx.Err(); err != nil {
					rows.Close()
					return err
				}
			}
			cells, err := rows.Columns(excelize.Options{RawCellValue: true})
			if err != nil {
				rows.Close()
				return err
			}
			if err := x.record(line, cells, true, false); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// readJSON reads a JSON document, an array of documents or NDJSON. Every
// object is a record of its scalar values (numbers as written); nested
// objects are records of their own. Keys are searched like values.
func (x *extractor) readJSON(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.UseNumber()
	type frame struct {
		cells  []string
		object bool
	}
	var stack []frame
	objects := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				objects++
				if objects%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				stack = append(stack, frame{object: true})
			case '[':
				stack = append(stack, frame{})
			case '}', ']':
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if top.object {
					if err := x.record(objects, top.cells, false, false); err != nil {
						return err
					}
				} else if len(top.cells) > 0 {
					// An array of scalars belongs to the enclosing object,
					// or is a record of its own at the top level.
					if len(stack) > 0 && stack[len(stack)-1].object {
						stack[len(stack)-1].cells = append(stack[len(stack)-1].cells, top.cells...)
					} else if err := x.record(objects, top.cells, false, false); err != nil {
						return err
					}
				}
			}
		case string, json.Number:
			s := fmt.Sprint(v)
			if len(stack) == 0 {
				if err := x.record(objects, []string{s}, false, false); err != nil {
					return err
				}
				continue
			}
			// Keys are read like values: a dump keyed by phone number
			// is still a list of phone numbers.
			top := &stack[len(stack)-1]
			top.cells = append(top.cells, s)
		}
	}
}
