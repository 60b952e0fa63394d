package httpgw

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

// TestHTMLRows: the records a limit can cut are the innermost rows and
// items, with implied ends.
func TestHTMLRows(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		rows []string
	}{
		{"<table><tr><td>a</td></tr><tr><td>b</td></tr></table>", []string{"<tr><td>a</td></tr>", "<tr><td>b</td></tr>"}},
		{"<table><tr><td>a<tr><td>b</table>x", []string{"<tr><td>a", "<tr><td>b"}},
		{"<ul><li>a<li>b</ul><ol><li>c</li></ol>", []string{"<li>a", "<li>b", "<li>c</li>"}},
		{"<table><thead><tr><th>h</thead><tbody><tr><td>a</tbody></table>", []string{"<tr><th>h", "<tr><td>a"}},
		// A layout row holding a table: only the inner rows are records.
		{"<table><tr><td><table><tr><td>a</td></tr></table></td></tr></table>", []string{"<tr><td>a</td></tr>"}},
		{"<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", []string{"<li>b</li>", "<li>c</li>"}},
		// Tags inside a script are text, not rows.
		{"<ul><li>a<script>'<li>x'</script></li></ul>", []string{"<li>a<script>'<li>x'</script></li>"}},
		{"<p>no rows</p>", nil},
	} {
		var got []string
		for _, r := range htmlRows([]byte(tc.doc)) {
			got = append(got, tc.doc[r.start:r.end])
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.rows) {
			t.Errorf("%s: rows %q, want %q", tc.doc, got, tc.rows)
		}
	}
}

// FuzzHTMLCut: for any document (subjects where a '7' is), a cut never
// panics, keeps at most the limit of records, and removes whole tokens:
// the cut document tokenizes to the original's tokens minus the removed
// ones.
func FuzzHTMLCut(f *testing.F) {
	f.Add("<table><tr><td>7</td></tr><tr><td>77</td></tr><tr><td>7</table><p>7</p>", uint8(2))
	f.Add("<ul><li>7<li>7<ul><li>7</ul></ul><script>'<li>7'</script>", uint8(1))
	f.Add("<table><tr><td><table><tr>7<tr>7</table></td></tr></table>", uint8(1))
	f.Fuzz(func(t *testing.T, doc string, limit uint8) {
		body := []byte(doc)
		var subs []htmlSubject
		for i, c := range body {
			if c == '7' {
				subs = append(subs, htmlSubject{i, fmt.Sprint(i)})
			}
		}
		n, cut := htmlCut(body, subs)
		if n <= 0 || cut == nil {
			return
		}
		out := cut(int(limit))
		if out == nil {
			return
		}
		if m, _ := htmlCut(out, reSubjects(out)); int(limit) < n && m > max(int(limit), 0) && m > 0 {
			// The cut page may still count subjects outside rows, never
			// more records than the limit.
			t.Fatalf("cut to %d keeps %d records of %d: %q", limit, m, n, out)
		}
		// Tokens: the output's must be a subsequence of the input's.
		in, got := tokens(body), tokens(out)
		j := 0
		for _, tok := range got {
			for j < len(in) && in[j] != tok {
				j++
			}
			if j == len(in) {
				t.Fatalf("token %q of the cut page is not in the original: %q", tok, out)
			}
			j++
		}
	})
}

func reSubjects(body []byte) []htmlSubject {
	var subs []htmlSubject
	for i, c := range body {
		if c == '7' {
			subs = append(subs, htmlSubject{i, fmt.Sprint(i)})
		}
	}
	return subs
}

func tokens(b []byte) []string {
	z := xhtml.NewTokenizer(bytes.NewReader(b))
	var out []string
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			return out
		}
		if tt == xhtml.TextToken {
			// Text may be split differently where a row was removed.
			for _, r := range strings.Split(string(z.Raw()), "") {
				out = append(out, "t"+r)
			}
			continue
		}
		out = append(out, string(z.Raw()))
	}
}
