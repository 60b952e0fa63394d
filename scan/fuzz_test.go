package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
