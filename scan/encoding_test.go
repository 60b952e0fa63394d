package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/custos-dev/custos/pii"
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

// fxTaiwan is a Taiwan / Hong Kong customer list in traditional
// characters, as Big5 files hold them.
var fxTaiwan = "客戶姓名,身分證字號,手機,地址\n" +
	"陳美玲,A123456789,0912345678,臺北市信義區松仁路100號\n" +
	"張偉,B120863158,0987654321,高雄市前鎮區中山二路5號\n" +
	"備註：聯繫人：林志明，香港身份證 A123456(3)，電話 " + fxMobile + "。\n"

// asciiLog is plain ASCII log text of at least n bytes, with an e-mail
// address in it: the head the scanner sniffs says UTF-8.
func asciiLog(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "2024-05-01T10:%02d:%02dZ INFO export batch %d rows ok\n", i/60%60, i%60, i)
		if i == 3 {
			b.WriteString("2024-05-01T10:00:03Z INFO operator " + fxEmail + "\n")
		}
	}
	return b.String()
}

// utf16Raw is s in UTF-16 without a byte order mark.
func utf16Raw(s string, le bool) []byte {
	var b bytes.Buffer
	for _, c := range utf16.Encode([]rune(s)) {
		if le {
			b.WriteByte(byte(c))
			b.WriteByte(byte(c >> 8))
		} else {
			b.WriteByte(byte(c >> 8))
			b.WriteByte(byte(c))
		}
	}
	return b.Bytes()
}

// writeEncodingFixtures writes the same export in the encodings the
// scanner decodes, files that change encoding after the sniffed head, and
// one that stays bytes (Latin-1).
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
	write("taiwan-big5.csv", encode(t, traditionalchinese.Big5, fxTaiwan))
	write("nobom-utf16le.txt", utf16Raw(strings.ReplaceAll(fxBackOffice, ",", "\t"), true))
	write("nobom-utf16be.txt", utf16Raw(fxBackOffice, false))
	// ASCII for more than the 8 KiB the scanner sniffs, then the export.
	write("late-gbk.log", append([]byte(asciiLog(9000)), encode(t, simplifiedchinese.GBK, fxBackOffice)...))
	write("late-big5.log", append([]byte(asciiLog(9000)), encode(t, traditionalchinese.Big5, fxTaiwan)...))
	write("late-latin1.log", []byte(asciiLog(9000)+"caf\xe9 cr\xe8me, phone "+fxMobile2+"\n"))
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
	case encBig5:
		e = traditionalchinese.Big5
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
		"export-big5.csv":    {"cn_name", "cn_mobile"},
		"taiwan-big5.csv":    {"cn_name", "tw_id", "hk_id", "cn_mobile", "cn_address"},
		"nobom-utf16le.txt":  {"cn_name", "cn_mobile", "cn_id", "cn_address", "email"},
		"nobom-utf16be.txt":  {"cn_name", "cn_mobile", "cn_id", "cn_address", "email"},
		"late-gbk.log":       {"email", "cn_name", "cn_mobile", "cn_id", "cn_address"},
		"late-big5.log":      {"email", "cn_name", "tw_id", "hk_id", "cn_mobile"},
		"late-latin1.log":    {"email", "cn_mobile"},
		"cut-gbk.txt":        {"cn_name", "cn_mobile"},
		"odd-utf16le.txt":    {"cn_mobile"},
	} {
		for _, typ := range want {
			if !types[file][typ] {
				t.Errorf("%s: no %s found (found %v)", file, typ, types[file])
			}
		}
	}
	// Every finding is reported once, also around the switch of encoding.
	seen := map[Finding]bool{}
	for _, f := range c.findings {
		if seen[f] {
			t.Errorf("reported twice: %+v", f)
		}
		seen[f] = true
	}
	wantEnc := map[string]string{
		"export-big5.csv": encBig5, "taiwan-big5.csv": encBig5, "late-big5.log": encBig5,
		"late-gbk.log": encGB18030, "nobom-utf16le.txt": encUTF16LE, "nobom-utf16be.txt": encUTF16BE,
	}
	for _, f := range c.findings {
		base := filepath.Base(f.Path)
		want, ok := wantEnc[base]
		switch {
		case base == "late-latin1.log" && f.Encoding != "":
			t.Errorf("%s: %s decoded as %s", base, f.Type, f.Encoding)
		case ok && strings.HasPrefix(base, "late-") && f.Offset < int64(len(asciiLog(9000))):
			if f.Encoding != "" {
				t.Errorf("%s: %s in the ASCII head reported as %s", base, f.Type, f.Encoding)
			}
		case ok && f.Encoding != want:
			t.Errorf("%s: %s at %d decoded as %q, want %q", base, f.Type, f.Offset, f.Encoding, want)
		}
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
		{"big5", big5("客戶姓名：張偉，地址：臺北市信義區"), true, encBig5},
		{"big5 names", big5("張偉,陳美玲,林志明\n"), true, encBig5},
		{"big5 traditional export", big5(fxTaiwan), true, encBig5},
		{"gbk export", gbk(fxBackOffice), true, encGB18030},
		{"gbk names", gbk("张伟,王芳,李娜,刘洋\n"), true, encGB18030},
		{"gb18030 four-byte rules big5 out", string(encode(t, simplifiedchinese.GB18030, "𠀀张伟")), true, encGB18030},
		// Ambiguous: every byte pair is GB2312 level 1 and Big5 level 1
		// (偉 B0B6, 陳 B3AF read as GB 癌, 超); a tie goes to GB18030.
		{"big5 tie", big5("偉陳"), true, encGB18030},
		{"utf-16le no bom", string(utf16Raw("姓名,手机\r\n张伟,13812345678\r\n", true)), true, encUTF16LE},
		{"utf-16be no bom", string(utf16Raw("姓名,手机\r\n张伟,13812345678\r\n", false)), true, encUTF16BE},
		{"utf-16le no bom, cut pair", string(utf16Raw("id 13812345678 𠀀", true)[:33]), false, encUTF16LE},
		{"utf-16 no bom, too little ascii", string(utf16Raw("姓名张伟手机号码地址北京市", true)), true, ""},
		{"nul in text", "abc\x00def", true, ""},
		{"binary with zeros", "\x01\x00\x02\x00\x03\x00\x04\x00", true, ""},
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
	// ASCII for 50 KiB, then GB18030 or Big5: the stream switches in a
	// later chunk, whatever the chunk size.
	late := func(e encoding.Encoding) []byte {
		return append([]byte(asciiLog(50<<10)), encode(t, e, b.String())...)
	}
	var tw strings.Builder
	for i := range 400 {
		tw.WriteString(fxTaiwan)
		tw.WriteString(strings.Repeat("無關的文字", i%7))
	}
	for name, data := range map[string][]byte{
		"gb18030":         encode(t, simplifiedchinese.GB18030, b.String()),
		"utf-16le":        encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), b.String()),
		"utf-16be no bom": utf16Raw(b.String(), false),
		"big5":            encode(t, traditionalchinese.Big5, tw.String()),
		"late gbk":        late(simplifiedchinese.GBK),
		"late big5":       append([]byte(asciiLog(50<<10)), encode(t, traditionalchinese.Big5, tw.String())...),
	} {
		t.Log(name)
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
		if len(whole.findings) < 400*4 || len(small.findings) != len(whole.findings) {
			t.Fatalf("%s: %d findings in small chunks, %d in one", name, len(small.findings), len(whole.findings))
		}
		for i, f := range small.findings {
			if f != whole.findings[i] {
				t.Fatalf("%s: finding %d: %+v, want %+v", name, i, f, whole.findings[i])
			}
			if v := decodeAt(t, data, f); v != f.Value {
				t.Fatalf("%s: finding %d: bytes decode to %q, value %q", name, i, v, f.Value)
			}
		}
	}
}

// hintRef is notUTF8Hint a byte at a time.
func hintRef(b []byte) bool {
	prev := byte(0x80)
	for _, c := range b {
		isCont := c&0xC0 == 0x80
		if prev < 0x80 && isCont || prev >= 0xC0 && !isCont {
			return true
		}
		prev = c
	}
	return false
}

func TestNotUTF8Hint(t *testing.T) {
	valid := strings.Repeat(fxBackOffice+fxTaiwan+asciiLog(300), 3)
	// Valid UTF-8 cut anywhere (a chunk starts and ends inside
	// characters) never raises the hint.
	for i := 0; i < 40; i++ {
		for j := len(valid) - 40; j <= len(valid); j++ {
			if notUTF8Hint([]byte(valid[i:j])) {
				t.Fatalf("valid UTF-8 [%d:%d] raised the hint", i, j)
			}
		}
	}
	for name, data := range map[string][]byte{
		"gbk":      encode(t, simplifiedchinese.GBK, fxBackOffice),
		"big5":     encode(t, traditionalchinese.Big5, fxTaiwan),
		"gbk late": append([]byte(valid), encode(t, simplifiedchinese.GBK, "张伟")...),
		// 陳美玲 alone is B3AF ACFC AAB1: each lead byte ≥ 0xC0 is
		// followed by one that can continue it; after a space it is not.
		"big5 names": encode(t, traditionalchinese.Big5, " 陳美玲"),
		"latin-1":    []byte("caf\xe9 au lait"),
	} {
		if !notUTF8Hint(data) {
			t.Errorf("%s: no hint", name)
		}
	}
	// The word-at-a-time loop agrees with the byte loop, at every
	// alignment, on bytes from all the encodings.
	var mixed []byte
	mixed = append(mixed, valid...)
	mixed = append(mixed, encode(t, simplifiedchinese.GBK, fxBackOffice)...)
	mixed = append(mixed, encode(t, traditionalchinese.Big5, fxTaiwan)...)
	mixed = append(mixed, utf16Raw(fxBackOffice, true)...)
	for i := 0; i < len(mixed); i += 7 {
		for _, n := range []int{1, 15, 16, 17, 33, 100, 1500} {
			b := mixed[i:min(i+n, len(mixed))]
			if got, want := notUTF8Hint(b), hintRef(b); got != want {
				t.Fatalf("mixed[%d:+%d]: hint %v, byte loop %v", i, n, got, want)
			}
		}
	}
}

// TestLateSwitchAfterMegabytes: ASCII for 3 MiB then GBK is decoded from
// where it starts; UTF-8 Chinese for over 1 MiB then GBK is not (the
// stream was proven UTF-8 and is no longer watched: writtenAsUTF8).
func TestLateSwitchAfterMegabytes(t *testing.T) {
	gbk := encode(t, simplifiedchinese.GBK, fxBackOffice)
	var zh strings.Builder
	for zh.Len() < 2<<20 {
		zh.WriteString("会议纪要：本季度的工作进展顺利，下周继续讨论。\n")
	}
	for _, tc := range []struct {
		name    string
		head    string
		decoded bool
	}{
		{"ascii", asciiLog(3 << 20), true},
		{"utf-8 chinese", zh.String(), false},
	} {
		data := append([]byte(tc.head), gbk...)
		path := filepath.Join(t.TempDir(), "late.log")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var c collectSink
		sum, err := Files(context.Background(), []string{path}, Options{Workers: 2, Reveal: true}, &c)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Bytes != int64(len(data)) {
			t.Errorf("%s: %d bytes counted, want %d", tc.name, sum.Bytes, len(data))
		}
		names := 0
		for _, f := range c.findings {
			if f.Offset < int64(len(tc.head)) {
				if f.Encoding != "" {
					t.Errorf("%s: %s in the head reported as %s", tc.name, f.Type, f.Encoding)
				}
				continue
			}
			if tc.decoded && f.Encoding != encGB18030 || !tc.decoded && f.Encoding != "" {
				t.Errorf("%s: %s at %d has encoding %q", tc.name, f.Type, f.Offset, f.Encoding)
			}
			if f.Type == "cn_name" {
				names++
			}
			if v := decodeAt(t, data, f); v != f.Value {
				t.Errorf("%s: %s at %d: bytes decode to %q, value %q", tc.name, f.Type, f.Offset, v, f.Value)
			}
		}
		if tc.decoded != (names > 0) {
			t.Errorf("%s: %d names in the GBK tail, decoded %v", tc.name, names, tc.decoded)
		}
	}
}

// TestTradSimp checks the hand-written fold table: every traditional
// character is in Big5 and every simplified one in GB2312 (a typo that
// swaps or mistypes a pair fails here), and the decoder folds Big5 text
// for the detectors while reporting it as written.
func TestTradSimp(t *testing.T) {
	m := pii.TradSimpPairs()
	if len(m) < 300 {
		t.Fatalf("%d pairs", len(m))
	}
	for tr, si := range m {
		if _, err := traditionalchinese.Big5.NewEncoder().String(string(tr)); err != nil {
			t.Errorf("%c (for %c) is not Big5", tr, si)
		}
		g, err := simplifiedchinese.GBK.NewEncoder().String(string(si))
		if err != nil || len(g) != 2 || g[0] < 0xA1 || g[0] > 0xF7 || g[1] < 0xA1 {
			t.Errorf("%c (for %c) is not GB2312", si, tr)
		}
	}
	raw := encode(t, traditionalchinese.Big5, "客戶姓名：張偉，臺北市信義區，電話號碼")
	d := newDecoder(bytes.NewReader(raw), encBig5, 0)
	dst, shown := make([]byte, 256), make([]byte, 256)
	n, done, err := d.decode(dst, shown, make([]int32, 257), 0)
	if err != nil || !done {
		t.Fatal(done, err)
	}
	if got, want := string(dst[:n]), "客户姓名：张伟，台北市信义区，电话号码"; got != want {
		t.Errorf("folded %q, want %q", got, want)
	}
	if got, want := string(shown[:n]), "客戶姓名：張偉，臺北市信義區，電話號碼"; got != want {
		t.Errorf("shown %q, want %q", got, want)
	}
}
