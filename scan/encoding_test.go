package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

const encodingsDir = "testdata/encodings"

// fxBackOffice is a customer export as Chinese back offices write it:
// names, addresses, phones and IDs, some characters outside GB2312.
var fxBackOffice = "客户姓名,手机,身份证,地址\n" +
	"张伟," + fxMobile + "," + fxID + ",北京市朝阳区建国路88号3单元501室\n" +
	"欧阳娜娜," + fxMobile2 + ",,上海市浦东新区世纪大道100号\n" +
	"备注：联系人：李娜，电话 " + fxMobile + "，邮箱 " + fxEmail + "。\n"

func encode(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeEncodingFixtures writes the same export in the encodings the
// scanner decodes, and in Big5, which it must not take for GB18030.
func writeEncodingFixtures(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(encodingsDir, 0o755))
	write := func(name string, data []byte) { must(os.WriteFile(filepath.Join(encodingsDir, name), data, 0o644)) }
	write("export-gbk.csv", encode(t, simplifiedchinese.GBK, fxBackOffice))
	// GB18030-only characters (four-byte codes): 𠀀 (U+20000) and € in
	// the four-byte range, next to a name and a phone number.
	write("notes-gb18030.txt", encode(t, simplifiedchinese.GB18030, "𠀀记录：收件人：王芳，手机 "+fxMobile2+"。€\n"))
	write("export-utf16le.txt", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), strings.ReplaceAll(fxBackOffice, ",", "\t")))
	write("export-utf16be.txt", encode(t, unicode.UTF16(unicode.BigEndian, unicode.UseBOM), fxBackOffice))
	write("export-big5.csv", encode(t, traditionalchinese.Big5, "客戶姓名,手機\n張偉,"+fxMobile+"\n陳美玲,"+fxMobile2+"\n"))
	// Malformed: a GBK file with a cut character at the end, and UTF-16
	// with an unpaired surrogate and an odd final byte.
	gbk := encode(t, simplifiedchinese.GBK, "姓名：张伟 手机："+fxMobile+" 末尾")
	write("cut-gbk.txt", gbk[:len(gbk)-1])
	u := utf16.Encode([]rune("电话 " + fxMobile + " "))
	u = append(u, 0xD800, 'x')
	var b bytes.Buffer
	b.WriteString("\xff\xfe")
	for _, c := range u {
		b.WriteByte(byte(c))
		b.WriteByte(byte(c >> 8))
	}
	b.WriteByte('z')
	write("odd-utf16le.txt", b.Bytes())
}

// decodeAt decodes the original bytes of a finding with the encoding the
// scanner reported, to check that offsets point at the value.
func decodeAt(t *testing.T, data []byte, f Finding) string {
	t.Helper()
	raw := data[f.Offset : f.Offset+int64(f.Length)]
	var e encoding.Encoding
	switch f.Encoding {
	case "":
		return string(raw)
	case encGB18030:
		e = simplifiedchinese.GB18030
	case encUTF16LE:
		e = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case encUTF16BE:
		e = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	default:
		t.Fatalf("unknown encoding %q", f.Encoding)
	}
	out, err := e.NewDecoder().Bytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestEncodings(t *testing.T) {
	if *update {
		writeEncodingFixtures(t)
	}
	got := render(t, "jsonl", func(s Sink) Summary {
		sum, err := Files(context.Background(), []string{encodingsDir}, Options{Workers: 2, Reveal: true}, s)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	})
	golden(t, "encodings.jsonl", got)

	var c collectSink
	if _, err := Files(context.Background(), []string{encodingsDir}, Options{Workers: 1, Reveal: true, ChunkSize: 1}, &c); err != nil {
		t.Fatal(err)
	}
	types := map[string]map[string]bool{}
	for _, f := range c.findings {
		data, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if v := decodeAt(t, data, f); v != f.Value {
			t.Errorf("%s@%d+%d (%s): original bytes decode to %q, value %q", f.Path, f.Offset, f.Length, f.Encoding, v, f.Value)
		}
		base := filepath.Base(f.Path)
		if types[base] == nil {
			types[base] = map[string]bool{}
		}
		types[base][f.Type] = true
	}
	for file, want := range map[string][]string{
		"export-gbk.csv":     {"cn_name", "cn_mobile", "cn_id", "cn_address", "email"},
		"export-utf16le.txt": {"cn_name", "cn_mobile", "cn_id", "cn_address", "email"},
		"export-utf16be.txt": {"cn_name", "cn_mobile", "cn_id", "cn_address", "email"},
		"notes-gb18030.txt":  {"cn_name", "cn_mobile"},
		"export-big5.csv":    {"cn_mobile"},
		"cut-gbk.txt":        {"cn_name", "cn_mobile"},
		"odd-utf16le.txt":    {"cn_mobile"},
	} {
		for _, typ := range want {
			if !types[file][typ] {
				t.Errorf("%s: no %s found (found %v)", file, typ, types[file])
			}
		}
	}
	if types["export-big5.csv"]["cn_name"] {
		t.Errorf("Big5 was decoded as GB18030: names found")
	}
}

func TestTextEncoding(t *testing.T) {
	gbk := func(s string) string { return string(encode(t, simplifiedchinese.GBK, s)) }
	big5 := func(s string) string { return string(encode(t, traditionalchinese.Big5, s)) }
	for _, tc := range []struct {
		name, head string
		complete   bool
		want       string
	}{
		{"ascii", "plain 13812345678\n", true, ""},
		{"utf-8", "姓名：张伟\n", true, ""},
		{"utf-8 cut at the end of the head", "姓名：张伟"[:len("姓名：张伟")-1], false, ""},
		{"utf-8 cut but complete", "姓名：张伟"[:len("姓名：张伟")-1], true, ""}, // not GB either: 0xBC at the end
		{"utf-16le bom", "\xff\xfeA\x00", true, encUTF16LE},
		{"utf-16be bom", "\xfe\xff\x00A", true, encUTF16BE},
		{"gbk", gbk("客户姓名：张伟，地址：北京市朝阳区"), true, encGB18030},
		{"gbk cut at the end of the head", gbk("客户姓名：张伟")[:len(gbk("客户姓名：张伟"))-1], false, encGB18030},
		{"big5", big5("客戶姓名：張偉，地址：臺北市信義區"), true, ""},
		{"latin-1", "caf\xe9 cr\xe8me br\xfbl\xe9e", true, ""},
		{"cp1252 word", "na\xefve \xe9t\xe9", true, ""},
	} {
		if got := textEncoding([]byte(tc.head), tc.complete); got != tc.want {
			t.Errorf("%s: textEncoding = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestEncodedChunks scans a long GB18030 text in small chunks and
// requires the same findings, at the same original offsets, as one
// chunk: the offset map survives the overlap between chunks.
func TestEncodedChunks(t *testing.T) {
	var b strings.Builder
	for i := range 400 {
		b.WriteString(fxBackOffice)
		b.WriteString(strings.Repeat("无关的文字", i%7))
	}
	for _, enc := range []encoding.Encoding{simplifiedchinese.GB18030, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)} {
		data := encode(t, enc, b.String())
		path := filepath.Join(t.TempDir(), "big.txt")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var whole, small collectSink
		sum, err := Files(context.Background(), []string{path}, Options{Workers: 1, Reveal: true}, &whole)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Bytes != int64(len(data)) {
			t.Errorf("summary: %d bytes, want %d", sum.Bytes, len(data))
		}
		if _, err := Files(context.Background(), []string{path}, Options{Workers: 3, Reveal: true, ChunkSize: 5000}, &small); err != nil {
			t.Fatal(err)
		}
		if len(whole.findings) < 400*5 || len(small.findings) != len(whole.findings) {
			t.Fatalf("%d findings in small chunks, %d in one", len(small.findings), len(whole.findings))
		}
		for i, f := range small.findings {
			if f != whole.findings[i] {
				t.Fatalf("finding %d: %+v, want %+v", i, f, whole.findings[i])
			}
			if v := decodeAt(t, data, f); v != f.Value {
				t.Fatalf("finding %d: bytes decode to %q, value %q", i, v, f.Value)
			}
		}
	}
}
