package scan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/files and the golden files")

// Synthetic identifiers with valid check digits; none belongs to a person.
const (
	fxID      = "11010519491231002X"
	fxMobile  = "13812345678"
	fxMobile2 = "13912345678"
	fxCard    = "4111111111111111"
	fxEmail   = "zhang.wei@example.com"
)

var fxNotes = "会议纪要：客户姓名：张伟，手机 " + fxMobile + "，身份证 " + fxID + "。\n" +
	"Contact: " + fxEmail + ", card " + fxCard + ", host 10.1.2.3\n" +
	"订单号 ORDER20241234567890 与物流单 SF1234567890123 不是个人信息。\n"

var fxCSV = "name,phone,id_card,email\n张伟," + fxMobile + "," + fxID + "," + fxEmail + "\n李娜," + fxMobile2 + ",,li.na@example.org\n"

// writeFixtures writes the sample files the golden tests scan. They are
// committed; -update rewrites them.
func writeFixtures(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o755))
	write := func(name string, data []byte) {
		must(os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	write("notes.txt", []byte(fxNotes))
	write("people.csv", []byte(fxCSV))
	write("events.jsonl", []byte(`{"user":"agent7","phone":"`+fxMobile2+`","ip":"192.168.10.20"}`+"\n"))
	write("page.html", []byte("<html><body><p>联系电话：<b>"+fxMobile+"</b></p></body></html>\n"))
	write("image.bin", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"+fxMobile))
	write("scan.pdf", onePage("BT /F1 11 Tf 72 760 Td (Hotline: "+fxMobile2+") Tj ET", "/F1 5 0 R", true,
		pdfObj{dict: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}))
	write("broken.zip", []byte("PK\x03\x04\x14\x00\x00\x00garbage that is not a zip"))

	gz := gzipBytes(t, []byte("2024-05-01 login ok phone="+fxMobile+"\n"))
	write("app.log.gz", gz)
	write("truncated.gz", gz[:len(gz)/2])

	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range []struct{ name, body string }{
		{"logs/a.log", "user " + fxEmail + " logged in\n"},
		{"logs/b.log", "nothing personal here\n"},
	} {
		must(tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}))
		tw.Write([]byte(f.body))
	}
	must(tw.Close())
	write("logs.tgz", gzipBytes(t, tb.Bytes()))

	deep := zipBytes(t, map[string][]byte{"deep.txt": []byte("身份证号码 " + fxID + "\n")})
	write("bundle.zip", zipBytes(t, map[string][]byte{
		"inner/people.csv": []byte(fxCSV),
		"nested.zip":       deep,
		"data.txt.gz":      gzipBytes(t, []byte("卡号 "+fxCard+"\n")),
	}))

	x := excelize.NewFile()
	x.SetSheetRow("Sheet1", "A1", &[]any{"姓名", "手机", "身份证"})
	x.SetSheetRow("Sheet1", "A2", &[]any{"张伟", 13812345678, fxID})
	x.SetSheetRow("Sheet1", "A4", &[]any{"李娜", fxMobile2, "无"})
	x.NewSheet("客户 list")
	x.SetCellValue("客户 list", "C3", "邮箱 "+fxEmail)
	var xb bytes.Buffer
	must(x.Write(&xb))
	write("book.xlsx", xb.Bytes())

	for _, fx := range extraFixtures {
		fx(t, write)
	}
	write("letter.docx", zipBytes(t, map[string][]byte{
		"[Content_Types].xml": []byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`),
		"word/document.xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			`<w:p><w:r><w:t>尊敬的客户：</w:t></w:r></w:p>` +
			`<w:p><w:r><w:t xml:space="preserve">您的手机号 138</w:t></w:r><w:r><w:t>12345678 已登记。</w:t></w:r></w:p>` +
			`<w:p><w:r><w:t>E-mail: ` + fxEmail + `</w:t></w:r></w:p></w:body></w:document>`),
	}))
}

func init() { extraFixtures = append(extraFixtures, pptxFixture) }

// pptxFixture is a minimal presentation: the scanner reads slides and notes.
func pptxFixture(t *testing.T, write func(string, []byte)) {
	write("deck.pptx", zipBytes(t, map[string][]byte{
		"[Content_Types].xml":  []byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`),
		"ppt/presentation.xml": []byte(`<?xml version="1.0"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>`),
		"ppt/slides/slide1.xml": []byte(`<?xml version="1.0"?><p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody>` +
			`<a:p><a:r><a:t>值班电话</a:t></a:r></a:p><a:p><a:r><a:t>手机：` + fxMobile2 + `</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`),
	}))
}

var extraFixtures []func(*testing.T, func(string, []byte))

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipBytes builds a zip with members in name order (map order would make
// the archive differ from run to run).
func zipBytes(t *testing.T, members map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(members[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
