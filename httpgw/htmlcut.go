package httpgw

import (
	"bytes"
	"sort"

	xhtml "golang.org/x/net/html"
)

// A limit cuts an HTML page by its records: the rows of its tables and
// the items of its lists that reveal a subject. Only the innermost rows
// and items count (a layout table around the page holds the real table,
// and removing its one row would remove the page). Subjects outside any
// row are records of their own; they are never cut, so they use up the
// limit first. A page whose subjects are not in rows has no records the
// gateway can cut, and a limit refuses it whole.

// htmlRow is the byte range [start, end) of a table row or list item:
// from its start tag to its end tag, or to where the parser implies its
// end (the next row, the end of its table).
type htmlRow struct {
	start, end int
	child      bool // holds another row or item: not a record itself
}

// htmlSubject is where a subject shows in the document.
type htmlSubject struct {
	off int
	key string // type NUL value: the same subject shown twice is one
}

// htmlRows finds the table rows and list items of a document.
func htmlRows(body []byte) []htmlRow {
	type open struct {
		name string
		row  int // index in rows for tr and li, else -1
	}
	var rows []htmlRow
	var stack []open
	closeRow := func(i, end int) {
		if i >= 0 {
			rows[i].end = end
		}
	}
	// popTo closes everything above and including the innermost element
	// named one of names, but not beyond a boundary element.
	popTo := func(end int, names []string, boundary []string) bool {
		for k := len(stack) - 1; k >= 0; k-- {
			n := stack[k].name
			if contains(names, n) {
				for j := len(stack) - 1; j >= k; j-- {
					closeRow(stack[j].row, end)
				}
				stack = stack[:k]
				return true
			}
			if contains(boundary, n) {
				return false
			}
		}
		return false
	}
	push := func(name string, start int) {
		idx := -1
		if name == "tr" || name == "li" {
			for k := len(stack) - 1; k >= 0; k-- {
				if r := stack[k].row; r >= 0 {
					rows[r].child = true
					break
				}
			}
			rows = append(rows, htmlRow{start: start, end: len(body)})
			idx = len(rows) - 1
		}
		stack = append(stack, open{name, idx})
	}
	var nameBuf [16]byte
	z := xhtml.NewTokenizer(bytes.NewReader(body))
	off := 0
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		start := off
		off += len(z.Raw())
		if tt != xhtml.StartTagToken && tt != xhtml.EndTagToken {
			continue
		}
		name := string(tagName(body[start:off], &nameBuf))
		if tt == xhtml.StartTagToken {
			switch name {
			case "table", "ul", "ol", "menu":
				push(name, start)
			case "thead", "tbody", "tfoot":
				popTo(start, []string{"tr"}, []string{"table"})
			case "tr":
				popTo(start, []string{"tr"}, []string{"table"}) // implied end of the previous row
				push(name, start)
			case "li":
				popTo(start, []string{"li"}, []string{"ul", "ol", "menu", "table"})
				push(name, start)
			}
			continue
		}
		switch name {
		case "tr":
			popTo(off, []string{"tr"}, []string{"table"})
		case "li":
			popTo(off, []string{"li"}, []string{"ul", "ol", "menu", "table"})
		case "thead", "tbody", "tfoot":
			popTo(start, []string{"tr"}, []string{"table"})
		case "table":
			popTo(start, []string{"table"}, nil)
		case "ul", "ol", "menu":
			popTo(start, []string{name}, []string{"table"})
		}
	}
	for _, o := range stack {
		closeRow(o.row, len(body))
	}
	// Leaves only, in document order (they do not overlap).
	leaves := rows[:0]
	for _, r := range rows {
		if !r.child {
			leaves = append(leaves, r)
		}
	}
	sort.Slice(leaves, func(i, j int) bool { return leaves[i].start < leaves[j].start })
	return leaves
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// htmlCut counts a page's records and returns how to cut it, or
// records < 0 when its subjects are not in rows.
func htmlCut(body []byte, subjects []htmlSubject) (records int, cut func(limit int) []byte) {
	if len(subjects) == 0 {
		return -1, nil
	}
	rows := htmlRows(body)
	inRow := make([]bool, len(rows))
	rowKeys := map[string]bool{}
	outside := map[string]bool{}
	for _, s := range subjects {
		i := sort.Search(len(rows), func(i int) bool { return rows[i].end > s.off })
		if i < len(rows) && rows[i].start <= s.off {
			inRow[i] = true
			rowKeys[s.key] = true
			continue
		}
		outside[s.key] = true
	}
	n := 0
	for _, ok := range inRow {
		if ok {
			n++
		}
	}
	if n == 0 {
		return -1, nil
	}
	extra := 0
	for k := range outside {
		if !rowKeys[k] {
			extra++ // a subject only outside rows: a record of its own
		}
	}
	return n + extra, func(limit int) []byte {
		keep := limit - extra
		if keep < 1 {
			return nil // what is outside rows is over the limit alone
		}
		out := make([]byte, 0, len(body))
		last := 0
		for i, r := range rows {
			if !inRow[i] {
				continue
			}
			if keep > 0 {
				keep--
				continue
			}
			out = append(out, body[last:r.start]...)
			last = r.end
		}
		return append(out, body[last:]...)
	}
}
