package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// FuzzReader feeds arbitrary bytes to the format readers (text, gzip,
// bzip2, tar, zip, xlsx, docx, GB18030 and UTF-16 text): a malformed input is a note, never a
// panic, and plain-text findings always point at their bytes.
func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(filesDir, "*"))
	more, _ := filepath.Glob(filepath.Join(encodingsDir, "*"))
	seeds = append(seeds, more...)
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"phone":"13812345678","nested":{"id":"11010519491231002X"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got collectSink
		_, err := Reader(context.Background(), bytes.NewReader(data), "in", Options{Workers: 2, ChunkSize: 1, MaxBuffered: 1 << 20, Reveal: true}, &got)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range got.findings {
			if fd.Path == "in" && fd.Location == "" && fd.Encoding != "" {
				// Decoded text: the span is within the input and covers
				// at least one byte per character of the value.
				if fd.Offset < 0 || fd.Length <= 0 || fd.Offset+int64(fd.Length) > int64(len(data)) {
					t.Fatalf("finding %s@%d+%d (%s) outside the input", fd.Type, fd.Offset, fd.Length, fd.Encoding)
				}
			} else if fd.Path == "in" && fd.Location == "" {
				if fd.Offset < 0 || fd.Offset+int64(fd.Length) > int64(len(data)) || string(data[fd.Offset:fd.Offset+int64(fd.Length)]) != fd.Value {
					t.Fatalf("finding %s@%d+%d does not point at its bytes", fd.Type, fd.Offset, fd.Length)
				}
			}
		}
		for _, n := range got.notes {
			if n.Kind != NoteError && n.Kind != NoteSkipped || !strings.HasPrefix(n.Path, "in") {
				t.Fatalf("bad note %+v", n)
			}
		}
	})
}

// FuzzDecode feeds arbitrary bytes to the encoding decision and the
// decoder: whatever textEncoding decides, the decoder writes valid UTF-8,
// its offsets into the input never go back and end at the input's end,
// and where it writes no U+FFFD its text is what golang.org/x/text
// decodes (UTF-16 with or without a byte order mark, GB18030, Big5).
// switchEncoding's positions stay inside the text and ordered, and
// notUTF8Hint agrees with its byte-at-a-time form and never fires on
// valid UTF-8.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(encodingsDir, "*"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil && len(data) < 16<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte("\x81\x30\x81")) // GB18030 four-byte code cut
	f.Add([]byte("a\x00\x00\xd8b\x00"))
	f.Add([]byte("\xa4\x40\x88\x62\x88\x66\xa1")) // Big5: 一, a two-character code, an unassigned one, a cut lead
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := notUTF8Hint(data), hintRef(data); got != want {
			t.Fatalf("notUTF8Hint %v, byte loop %v", got, want)
		}
		if utf8.Valid(data) && notUTF8Hint(data) {
			t.Fatalf("valid UTF-8 raised the hint")
		}
		if p, from, enc := switchEncoding(data, 0); enc != "" && (from < 0 || from > p || p > len(data)) {
			t.Fatalf("switchEncoding: p %d, from %d of %d", p, from, len(data))
		}
		for _, enc := range []string{textEncoding(data, true), encUTF16LE, encUTF16BE, encGB18030, encBig5} {
			if enc == "" {
				continue
			}
			dec := newDecoder(bytes.NewReader(data), enc, 0)
			var text, folded []byte
			var orig []int32
			dst := make([]byte, 64)
			var shown []byte
			if enc == encBig5 {
				shown = make([]byte, 64)
			}
			at := make([]int32, 65)
			for {
				n, done, err := dec.decode(dst, shown, at, 0)
				if err != nil {
					t.Fatal(err)
				}
				if shown != nil {
					text = append(text, shown[:n]...)
					folded = append(folded, dst[:n]...)
				} else {
					text = append(text, dst[:n]...)
				}
				orig = append(orig, at[:n]...)
				if done {
					orig = append(orig, at[n])
					break
				}
			}
			if !utf8.Valid(text) || !utf8.Valid(folded) {
				t.Fatalf("%s: invalid UTF-8 %q", enc, text)
			}
			if shown != nil && len(folded) != len(text) {
				t.Fatalf("big5: folded text %q is not as long as %q", folded, text)
			}
			for i := 1; i < len(orig); i++ {
				if orig[i] < orig[i-1] || orig[i] > int32(len(data)) {
					t.Fatalf("%s: offset %d after %d (input %d bytes)", enc, orig[i], orig[i-1], len(data))
				}
			}
			if orig[len(orig)-1] != int32(len(data)) {
				t.Fatalf("%s: decoding ends at %d of %d", enc, orig[len(orig)-1], len(data))
			}
			if bytes.ContainsRune(text, utf8.RuneError) {
				continue
			}
			var ref encoding.Encoding
			switch enc {
			case encUTF16LE:
				ref = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
				if !bytes.HasPrefix(data, []byte("\xff\xfe")) {
					ref = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
				}
			case encUTF16BE:
				ref = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
				if !bytes.HasPrefix(data, []byte("\xfe\xff")) {
					ref = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
				}
			case encGB18030:
				ref = simplifiedchinese.GB18030
			case encBig5:
				ref = traditionalchinese.Big5
			}
			want, err := ref.NewDecoder().Bytes(data)
			if err != nil {
				return
			}
			if enc == encBig5 {
				// The four codes that are a letter and a combining mark
				// keep the letter.
				want = bytes.ReplaceAll(bytes.ReplaceAll(want, []byte("\u0304"), nil), []byte("\u030c"), nil)
			}
			if !bytes.Equal(text, want) {
				t.Fatalf("%s: decoded %q, x/text %q", enc, text, want)
			}
		}
	})
}
