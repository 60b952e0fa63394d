package scan

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

const pdfDir = "testdata/pdf"

// pdfObj is one indirect object; a stream is given as dict and content.
type pdfObj struct {
	dict   string
	stream []byte
	flate  bool
}

// buildPDF writes a PDF 1.4 file with a correct cross-reference table:
// object 1 is the catalog, 2 the page tree, the rest as given.
func buildPDF(objs []pdfObj) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		if o.stream == nil {
			b.WriteString(o.dict + "\nendobj\n")
			continue
		}
		data := o.stream
		filter := ""
		if o.flate {
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data, filter = z.Bytes(), " /Filter /FlateDecode"
		}
		fmt.Fprintf(&b, "<< %s /Length %d%s >>\nstream\n", o.dict, len(data), filter)
		b.Write(data)
		b.WriteString("\nendstream\nendobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// onePage is a document with one page drawing content with fonts (name →
// object number) and resources extra.
func onePage(content string, fonts string, flate bool, extra ...pdfObj) []byte {
	objs := []pdfObj{
		{dict: "<< /Type /Catalog /Pages 2 0 R >>"},
		{dict: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		{dict: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << " + fonts + " >> /XObject << /Fm1 9 0 R >> >> /Contents 4 0 R >>"},
		{dict: "", stream: []byte(content), flate: flate},
	}
	return buildPDF(append(objs, extra...))
}

// hexUTF16 is a ToUnicode destination.
func hexUTF16(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}

// cidPDF draws text in a Type0 Identity-H font whose codes are made-up
// glyph numbers (1, 2, 3 … in order of first use), as subsetting PDF
// generators write Chinese text; the ToUnicode CMap maps them back, with
// a bfrange for the digits and bfchar for the rest.
func cidPDF(lines []string, withToUnicode bool) []byte {
	codes := map[rune]int{}
	for i := '0'; i <= '9'; i++ {
		codes[i] = 0x100 + int(i-'0') // the bfrange
	}
	next := 1
	var content strings.Builder
	content.WriteString("BT /F1 12 Tf 72 760 Td\n")
	for i, line := range lines {
		if i > 0 {
			content.WriteString("0 -16 Td\n")
		}
		content.WriteString("[<")
		for j, r := range line {
			if _, ok := codes[r]; !ok {
				codes[r] = next
				next++
			}
			fmt.Fprintf(&content, "%04X", codes[r])
			if j == 6 {
				content.WriteString("> -20 <") // kerning inside a word
			}
		}
		content.WriteString(">] TJ\n")
	}
	content.WriteString("ET\nq /Fm1 Do Q\n")
	var cm strings.Builder
	cm.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CMapName /Adobe-Identity-UCS def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	fmt.Fprintf(&cm, "%d beginbfchar\n", len(codes)-10)
	for r, c := range codes {
		if r < '0' || r > '9' {
			fmt.Fprintf(&cm, "<%04X> <%s>\n", c, hexUTF16(string(r)))
		}
	}
	cm.WriteString("endbfchar\n1 beginbfrange\n<0100> <0109> <0030>\nendbfrange\nendcmap CMapName currentdict /CMap defineresource pop end end\n")
	font := "<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+SimSun /Encoding /Identity-H /DescendantFonts [6 0 R]"
	if withToUnicode {
		font += " /ToUnicode 7 0 R"
	}
	font += " >>"
	return onePage(content.String(), "/F1 5 0 R", true,
		pdfObj{dict: font},
		pdfObj{dict: "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+SimSun /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>"},
		pdfObj{dict: "", stream: []byte(cm.String()), flate: true},
		pdfObj{dict: "", stream: []byte("BT /F2 10 Tf 72 40 Td (Page footer, stamp ref. 42) Tj ET"), flate: false},
		pdfObj{dict: "<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F2 10 0 R >> >>", stream: []byte("BT /F2 10 Tf 72 40 Td (Form text: zhang.wei@example.com) Tj ET")},
		pdfObj{dict: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"},
	)
}

// writePDFFixtures writes the PDFs TestPDF scans.
func writePDFFixtures(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(pdfDir, 0o755))
	write := func(name string, data []byte) { must(os.WriteFile(filepath.Join(pdfDir, name), data, 0o644)) }
	helv := pdfObj{dict: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
	// Latin text: Tj, TJ with kerning and word gaps, ', T*, Tm, an inline
	// image whose data contains operators, marked content with a dict.
	latin := "BT /F1 11 Tf 1 0 0 1 72 760 Tm (Customer record) Tj\n" +
		"0 -14 Td [(Mobile: 138)-20(1234)10(5678)] TJ\n" +
		"T* [(ID)-500(no.)-500(" + fxID + ")] TJ\n" +
		"/P << /MCID 0 >> BDC (Card: " + fxCard + ") ' EMC\n" +
		"1 0 0 1 72 600 Tm (E-mail: " + fxEmail + ") Tj ET\n" +
		"BI /W 4 /H 1 /BPC 8 /CS /G ID \x00(Tj) EI\nBT /F1 11 Tf 72 500 Td (After the image \\(ok\\)) Tj ET\n" +
		"q 1 0 0 1 0 0 cm /Fm1 Do Q\n"
	write("latin.pdf", onePage(latin, "/F1 5 0 R", false, helv,
		pdfObj{dict: "null"}, pdfObj{dict: "null"}, pdfObj{dict: "null"},
		pdfObj{dict: "<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>", stream: []byte("BT /F1 10 Tf 72 40 Td (Form: phone 13912345678) Tj ET")}))
	rec := []string{"客户姓名：张伟", "手机：" + fxMobile2, "住址：北京市朝阳区建国路88号3单元501室"}
	write("cid-tounicode.pdf", cidPDF(rec, true))
	write("cid-no-tounicode.pdf", cidPDF(rec, false))
	// A predefined CMap: codes are UCS-2, no ToUnicode needed.
	var ucs strings.Builder
	for _, u := range utf16.Encode([]rune("收件人：李娜，电话：" + fxMobile)) {
		fmt.Fprintf(&ucs, "%04X", u)
	}
	write("unigb-ucs2.pdf", onePage("BT /F1 12 Tf 72 760 Td <"+ucs.String()+"> Tj ET", "/F1 5 0 R", true,
		pdfObj{dict: "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>"},
		pdfObj{dict: "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> >>"}))
	// Malformed files: each must be a note, never a crash.
	good := cidPDF(rec, true)
	write("truncated.pdf", good[:len(good)/2])
	write("garbage.pdf", []byte("%PDF-1.7\n"+strings.Repeat("garbage ( << [ ", 50)))
	bad := bytes.Replace(good, []byte("/Count 1"), []byte("/Count 9"), 1)
	bad = bytes.Replace(bad, []byte("/Kids [3 0 R]"), []byte("/Kids [3 0 R 2 0 R]"), 1)
	write("cyclic-pages.pdf", bad)
}

func TestPDF(t *testing.T) {
	if *update {
		writePDFFixtures(t)
	}
	got := render(t, "jsonl", func(s Sink) Summary {
		sum, err := Files(context.Background(), []string{pdfDir}, Options{Workers: 2, Reveal: true}, s)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	})
	golden(t, "pdf.jsonl", got)

	var c collectSink
	if _, err := Files(context.Background(), []string{pdfDir}, Options{Workers: 2, Reveal: true}, &c); err != nil {
		t.Fatal(err)
	}
	found := map[string]map[string]bool{}
	for _, f := range c.findings {
		base := filepath.Base(f.Path)
		if found[base] == nil {
			found[base] = map[string]bool{}
		}
		found[base][f.Type+"="+f.Value] = true
		if !strings.HasPrefix(f.Location, "page ") {
			t.Errorf("%s: location %q, want page N", f.Path, f.Location)
		}
	}
	for file, want := range map[string][]string{
		"latin.pdf":         {"cn_mobile=" + fxMobile, "cn_id=" + fxID, "bank_card=" + fxCard, "email=" + fxEmail, "cn_mobile=" + fxMobile2},
		"cid-tounicode.pdf": {"cn_name=张伟", "cn_mobile=" + fxMobile2, "cn_address=北京市朝阳区建国路88号3单元501室", "email=" + fxEmail},
		"unigb-ucs2.pdf":    {"cn_name=李娜", "cn_mobile=" + fxMobile},
		// Without ToUnicode only the Latin form text is readable.
		"cid-no-tounicode.pdf": {"email=" + fxEmail},
	} {
		for _, w := range want {
			if !found[file][w] {
				t.Errorf("%s: %s not found; found %v", file, w, found[file])
			}
		}
	}
	if len(found["cid-no-tounicode.pdf"]) != 1 {
		t.Errorf("cid-no-tounicode.pdf: %v, want only the e-mail", found["cid-no-tounicode.pdf"])
	}
	notes := map[string]Note{}
	for _, n := range c.notes {
		notes[filepath.Base(n.Path)] = n
	}
	for _, bad := range []string{"truncated.pdf", "garbage.pdf"} {
		if n, ok := notes[bad]; !ok || n.Kind != NoteError {
			t.Errorf("%s: note %+v, want an error note", bad, n)
		}
	}
	if n := notes["cid-no-tounicode.pdf"]; n.Kind != NoteSkipped || !strings.Contains(n.Message, "SimSun") {
		t.Errorf("cid-no-tounicode.pdf: note %+v, want a skipped note naming the font", n)
	}
}

// FuzzPDF feeds arbitrary bytes to the PDF reader: errors, never panics
// or hangs.
func FuzzPDF(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(pdfDir, "*.pdf"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pages, _, err := pdfText(bytes.NewReader(data), 1<<20)
		if err == nil && len(pages) > 10000 {
			t.Fatalf("%d pages", len(pages))
		}
	})
}

// FuzzPDFContent fuzzes the content stream and CMap interpreters alone,
// which see far more of the input than pdfcpu lets through.
func FuzzPDFContent(f *testing.F) {
	f.Add([]byte("BT /F1 12 Tf 72 760 Td [(ab)-300(cd)] TJ T* (x) ' ET BI /W 1 ID \x00 EI"), []byte("1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfrange <20> <7E> <0020> <80> <82> [<4E00> <4E01> <D83DDE00>] endbfrange"))
	f.Fuzz(func(t *testing.T, content, cmap []byte) {
		font := &pdfFont{}
		font.parseCMap(cmap)
		lx := pdfLexer{b: content}
		for range len(content) + 1 {
			tok := lx.operand()
			if tok.kind == 0 {
				break
			}
			if tok.kind == 's' {
				font.decode(nil, tok.str)
			}
		}
		if lx.operand().kind != 0 {
			t.Fatal("lexer did not reach the end in len+1 tokens")
		}
	})
}
