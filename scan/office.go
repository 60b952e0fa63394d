package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsx scans the cells of every sheet. Findings carry the cell in
// Location ("Sheet1!B7") and their byte offset inside the cell's text.
// Cells are read raw (no number format), so a phone number stored as a
// number reads as its digits.
func (s *scanner) xlsx(ctx context.Context, ra io.ReaderAt, size int64, name string) {
	if size > s.opt.MaxBuffered {
		s.noteSkip(ctx, name, fmt.Sprintf("xlsx larger than %d MiB, the most held in memory to open it", s.opt.MaxBuffered>>20))
		return
	}
	wb, err := excelize.OpenReader(io.NewSectionReader(ra, 0, size), excelize.Options{
		UnzipSizeLimit:    s.opt.MaxBuffered,
		UnzipXMLSizeLimit: s.opt.MaxBuffered,
	})
	if err != nil {
		s.noteErr(ctx, name, fmt.Errorf("xlsx: %w", err))
		return
	}
	defer wb.Close()
	u := &unit{path: name}
	flush := func(last bool) error {
		u.own1 = len(u.text)
		u.bytes = int64(len(u.text))
		if last {
			u.files = 1
		}
		err := s.submit(ctx, u)
		u = &unit{path: name}
		return err
	}
	for _, sheet := range wb.GetSheetList() {
		if err := s.sheet(ctx, wb, name, sheet, &u, flush); err != nil {
			s.noteErr(ctx, name, err)
			if ctx.Err() != nil {
				return
			}
		}
	}
	flush(true)
}

func (s *scanner) sheet(ctx context.Context, wb *excelize.File, name, sheet string, u **unit, flush func(bool) error) error {
	rows, err := wb.Rows(sheet)
	if err != nil {
		return fmt.Errorf("xlsx: sheet %d: %w", sheetIndex(wb, sheet), err)
	}
	defer rows.Close()
	prefix := sheet
	if strings.ContainsAny(sheet, " !'") {
		prefix = "'" + strings.ReplaceAll(sheet, "'", "''") + "'"
	}
	for row := 1; rows.Next(); row++ {
		cols, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return fmt.Errorf("xlsx: sheet %d row %d: %w", sheetIndex(wb, sheet), row, err)
		}
		for c, v := range cols {
			if v == "" {
				continue
			}
			ref, _ := excelize.CoordinatesToCellName(c+1, row)
			cu := *u
			cu.cells = append(cu.cells, cell{start: len(cu.text), ref: prefix + "!" + ref})
			cu.text = append(cu.text, v...)
			cu.text = append(cu.text, '\n')
			if len(cu.text) >= s.opt.ChunkSize {
				if err := flush(false); err != nil {
					return err
				}
			}
		}
	}
	return rows.Error()
}

// sheetIndex names a sheet in errors by position: sheet names are user
// content.
func sheetIndex(wb *excelize.File, sheet string) int {
	i, _ := wb.GetSheetIndex(sheet)
	return i + 1
}

// officeParts are the parts of docx and pptx documents that hold text
// people typed.
func officePart(name string) bool {
	dir, base := path.Split(name)
	if path.Ext(base) != ".xml" {
		return false
	}
	switch dir {
	case "word/":
		for _, p := range []string{"document", "header", "footer", "footnotes", "endnotes", "comments"} {
			if strings.HasPrefix(base, p) {
				return true
			}
		}
	case "ppt/slides/", "ppt/notesSlides/", "ppt/comments/":
		return true
	}
	return false
}

// office scans the text of a docx or pptx. Findings carry the part in
// Location ("word/document.xml") and the byte offset in the part's text
// as extracted: runs (<w:t>, <a:t>) concatenated, a newline after each
// paragraph and line break, a tab for each tab.
func (s *scanner) office(ctx context.Context, zr *zip.Reader, name string) {
	s.record(ctx, &unit{files: 1})
	for _, f := range zr.File {
		if ctx.Err() != nil {
			return
		}
		if !officePart(f.Name) {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			s.noteErr(ctx, name, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		text, err := officeText(rc, s.opt.MaxBuffered)
		rc.Close()
		if err != nil {
			s.noteErr(ctx, name, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		s.text(ctx, bytes.NewReader(text), name, f.Name, false)
	}
}

// officeText extracts the text of one WordprocessingML or DrawingML part.
func officeText(r io.Reader, limit int64) ([]byte, error) {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	var out []byte
	inText := false
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				out = append(out, '\t')
			case "br", "cr":
				out = append(out, '\n')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				out = append(out, '\n')
			}
		case xml.CharData:
			if inText {
				out = append(out, t...)
			}
		}
		if int64(len(out)) > limit {
			return nil, fmt.Errorf("text larger than %d MiB", limit>>20)
		}
	}
}
