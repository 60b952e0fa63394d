package httpgw

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/pii"
)

// ExportRecorder marks a download for its recipient (canary records, row
// order and format watermarks) and registers it, so that a leaked copy
// can be traced back to this export (custos trace). The server's export
// registry implements it.
type ExportRecorder interface {
	Fingerprint(ex *export.Export, t *export.Table) error
	RegisterExport(ctx context.Context, ex export.Export) error
}

// markCSV fingerprints a CSV download after masking: canaries and marks go
// on what the recipient actually receives. It returns the marked body and
// the export's registry entry.
func (g *Gateway) markCSV(x *exchange, body []byte) ([]byte, *export.Export, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	head := body[:min(len(body), 4096)]
	if bytes.Count(head, []byte("\t")) > bytes.Count(head, []byte(",")) {
		r.Comma = '\t'
	}
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		return body, nil, nil // not a table: registered through its event only
	}
	ex, marked, err := g.fingerprint(x, rows[0], rows[1:], "csv")
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = r.Comma
	w.UseCRLF = bytes.Contains(body, []byte("\r\n"))
	if err := w.Write(rows[0]); err != nil {
		return nil, nil, err
	}
	if err := w.WriteAll(marked); err != nil {
		return nil, nil, fmt.Errorf("write marked csv: %w", err)
	}
	return b.Bytes(), ex, nil
}

// markXLSX does the same for a workbook: its first sheet is the table;
// the marked workbook holds that sheet's values (cell styles are not
// carried over).
func (g *Gateway) markXLSX(x *exchange, body []byte) ([]byte, *export.Export, error) {
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("read xlsx: %w", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return body, nil, nil
	}
	rows, err := f.GetRows(sheets[0])
	if err != nil || len(rows) < 2 {
		return body, nil, nil
	}
	ex, marked, err := g.fingerprint(x, rows[0], rows[1:], "xlsx")
	if err != nil {
		return nil, nil, err
	}
	out := excelize.NewFile()
	defer out.Close()
	if err := out.SetSheetName(out.GetSheetName(0), sheets[0]); err != nil {
		return nil, nil, err
	}
	for i, row := range append([][]string{rows[0]}, marked...) {
		cells := make([]any, len(row))
		for j, v := range row {
			cells[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := out.SetSheetRow(sheets[0], cell, &cells); err != nil {
			return nil, nil, fmt.Errorf("write marked xlsx: %w", err)
		}
	}
	var b bytes.Buffer
	if err := out.Write(&b); err != nil {
		return nil, nil, fmt.Errorf("write marked xlsx: %w", err)
	}
	return b.Bytes(), ex, nil
}

// fingerprint marks a table's rows for x's recipient and returns the
// export's registry entry and the rows to send. The export's subjects are
// those the inspection found (masked cells no longer identify anyone, so
// they are taken from the inspection, not from the file).
func (g *Gateway) fingerprint(x *exchange, header []string, rows [][]string, format string) (*export.Export, [][]string, error) {
	t := export.Table{}
	for j, name := range header {
		t.Columns = append(t.Columns, export.Column{Name: name, Type: columnType(name, rows, j)})
	}
	for _, row := range rows {
		// Ragged rows are padded so every row has a cell per column.
		for len(row) < len(t.Columns) {
			row = append(row, "")
		}
		t.Rows = append(t.Rows, row[:len(t.Columns)])
	}
	var id [10]byte
	rand.Read(id[:])
	ex := &export.Export{
		ID: "exp_" + hex.EncodeToString(id[:]), Actor: x.actor.ID, Time: g.deps.Now(), Purpose: x.purpose,
		Channel: custos.ChannelHTTP, System: x.route.System, Format: format,
	}
	if err := g.deps.Exports.Fingerprint(ex, &t); err != nil {
		return nil, nil, err
	}
	ex.Rows = len(t.Rows)
	seen := map[custos.Subject]bool{}
	for _, s := range ex.Subjects {
		seen[s] = true
	}
	hashes := append(append([]string{}, x.reqHashes...), x.respHashes...)
	for i, s := range x.subjects {
		if i >= len(hashes) {
			break
		}
		sealed := custos.Subject{Type: s.Type, Hash: hashes[i]}
		if !seen[sealed] {
			seen[sealed] = true
			ex.Subjects = append(ex.Subjects, sealed)
		}
	}
	return ex, t.Rows, nil
}

// columnType is the data type of column j: what its name says, else what
// a strict majority of its first 200
// filled values are. A header such as "id_number" says nothing
// by itself, and an untyped column would be copied from a real row into a
// canary record: a real person's ID number in a synthetic record, which
// also hides the canary from a trace.
func columnType(name string, rows [][]string, j int) custos.DataType {
	if typ, ok := pii.ColumnHint(name); ok {
		return typ
	}
	counts := map[custos.DataType]int{}
	filled := 0
	for _, row := range rows[:min(len(rows), 200)] {
		if j >= len(row) || strings.TrimSpace(row[j]) == "" {
			continue
		}
		filled++
		if ms := pii.Classify(row[j]); len(ms) > 0 {
			counts[ms[0].Type]++
		}
	}
	var best custos.DataType
	n := 0
	for typ, c := range counts {
		if c > n || c == n && typ < best {
			best, n = typ, c
		}
	}
	if 2*n <= filled { // a strict majority of the filled cells
		return ""
	}
	return best
}
