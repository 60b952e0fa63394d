package httpgw

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

// skeleton is a document's structure as golang.org/x/net/html parses it:
// elements and their attribute names, without text or values.
func skeleton(t testing.TB, doc []byte) string {
	t.Helper()
	n, err := xhtml.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var b strings.Builder
	var walk func(*xhtml.Node, int)
	walk = func(n *xhtml.Node, depth int) {
		if n.Type == xhtml.ElementNode {
			fmt.Fprintf(&b, "%*s<%s", depth, "", n.Data)
			for _, a := range n.Attr {
				b.WriteString(" " + a.Key)
			}
			b.WriteString(">\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

// tokenShape is the token types and attribute counts of a document:
// masking may change text, attribute values, and digits inside names,
// never this.
func tokenShape(doc []byte) string {
	z := xhtml.NewTokenizer(bytes.NewReader(doc))
	var b strings.Builder
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			return b.String()
		}
		if tt == xhtml.TextToken {
			continue // masking can join or empty text between tags
		}
		n := 0
		if tt == xhtml.StartTagToken || tt == xhtml.SelfClosingTagToken {
			for {
				_, _, more := z.TagAttr()
				n++
				if !more {
					break
				}
			}
		}
		fmt.Fprintf(&b, "%d/%d ", tt, n)
	}
}

func TestHTMLMaskKeepsDocument(t *testing.T) {
	var docs []string
	for _, tc := range bypassCases() {
		if strings.HasPrefix(tc.contentType, "text/html") {
			docs = append(docs, "<!doctype html><html><body><table><tr>"+tc.body+"</tr></table></body></html>")
		}
	}
	docs = append(docs, `<p title='`+mobile(3)+`' data-x=`+cnID(4)+`>a &amp; b &lt; `+mobile(5)+`</p><img src=x alt="&#49;&#51;&#56;&#49;&#50;&#51;&#52;&#53;&#54;&#55;&#56;"/>`)
	for _, doc := range docs {
		in, vm := testMasker(t)
		in.reset(nil)
		out, err := prepareHTML([]byte(doc), in)(vm)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(out, []byte(doc)) && len(in.types) > 0 {
			t.Errorf("found %v but masked nothing: %s", in.types, doc)
		}
		if a, b := skeleton(t, []byte(doc)), skeleton(t, out); a != b {
			t.Errorf("structure changed:\n%s\n%s\n--- in\n%s--- out\n%s", doc, out, a, b)
		}
	}
}

func FuzzHTMLMask(f *testing.F) {
	for _, tc := range bypassCases() {
		if strings.HasPrefix(tc.contentType, "text/html") {
			f.Add([]byte(tc.body))
		}
	}
	f.Add([]byte(`<a href='/p?m=%31%33%38%31%32%33%34%35%36%37%38' title=&#49;&#51;&#56;&#49;&#50;&#51;&#52;&#53;&#54;&#55;&#56;>x</a><!--13812345678-->`))
	f.Add([]byte("<x 13812345678=1 y=\"138<b>1234</b>5678\"><textarea>&#x31;38 1234 5678</textarea><style>p{}</style>"))
	in, vm := testMasker(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		in.reset(nil)
		out, err := prepareHTML(doc, in)(vm)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := tokenShape(doc), tokenShape(out); a != b {
			t.Fatalf("token structure changed\nin:  %q\nout: %q\n%s\n%s", doc, out, a, b)
		}
		skeleton(t, out)
	})
}

// TestHTMLCurl: a page with a value split by tags and one written as
// character references, fetched with curl through the gateway.
func TestHTMLCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	mux := http.NewServeMux()
	var refs strings.Builder
	for _, c := range []byte(mobile(7)) {
		fmt.Fprintf(&refs, "&#%d;", c)
	}
	mux.HandleFunc("GET /p", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><body><p>手机 138<b>1234</b>0006</p><input value="%s"></body></html>`, refs.String())
	})
	h := newHarness(t, mux)
	out, err := exec.Command(curl, "-sS", "--compressed", "-H", "X-Remote-User: ana-curl-html", "-H", "X-Remote-Roles: analyst", h.srv.URL+"/p").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	body := string(out)
	if strings.Contains(body, "<b>1234</b>0006") || strings.Contains(body, refs.String()) || !strings.Contains(body, "<b>") {
		t.Fatalf("page: %s", body)
	}
	if got := skeleton(t, out); !strings.Contains(got, "<input value>") {
		t.Errorf("structure: %s", got)
	}
	ev := h.lastEvent("ana-curl-html")
	if ev.Records != 2 {
		t.Errorf("records %d, want the two mobiles", ev.Records)
	}
}

// TestHTMLLongRun: a run of text longer than htmlRunMax is judged in
// pieces; values everywhere in it, also across a piece boundary, are
// masked.
func TestHTMLLongRun(t *testing.T) {
	var b strings.Builder
	b.WriteString("<pre>")
	var want []string
	for i := 0; b.Len() < 3*htmlRunMax; i++ {
		b.WriteString(strings.Repeat("日志 ", 300))
		m := mobile(i)
		fmt.Fprintf(&b, "%s<b>%s</b>%s ", m[:3], m[3:7], m[7:])
		want = append(want, m[7:])
	}
	b.WriteString("</pre>")
	in, vm := testMasker(t)
	in.reset(nil)
	out, err := prepareHTML([]byte(b.String()), in)(vm)
	if err != nil {
		t.Fatal(err)
	}
	for i, tail := range want {
		if strings.Contains(string(out), "<b>"+mobile(i)[3:7]+"</b>"+tail) {
			t.Errorf("value %d not masked", i)
		}
	}
	if len(in.subjects) != len(want) {
		t.Errorf("%d subjects, want %d", len(in.subjects), len(want))
	}
}
