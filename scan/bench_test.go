package scan

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/custos-dev/custos/pii/corpus"
)

// BenchmarkFilesJSONL measures the whole file path: reading in chunks,
// the detectors on all workers, masking and JSONL encoding, on the dense
// synthetic corpus (about 22,000 findings per MiB).
func BenchmarkFilesJSONL(b *testing.B) {
	text, _ := corpus.Generate(3, 16<<20)
	path := filepath.Join(b.TempDir(), "corpus.txt")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		w, _ := NewWriter(io.Discard, io.Discard, "jsonl", "bench", false)
		sum, err := Files(context.Background(), []string{path}, Options{}, w)
		if err != nil {
			b.Fatal(err)
		}
		w.Close(sum)
	}
}

// BenchmarkFilesPlain is the same on mostly prose (corpus.WritePlain, as
// bench/scan PLAIN=1): the per-chunk work outside the detectors, such as
// the UTF-8 check that notices a later change of encoding, shows here.
func BenchmarkFilesPlain(b *testing.B) {
	path := filepath.Join(b.TempDir(), "plain.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := corpus.WritePlain(f, 16<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	for b.Loop() {
		w, _ := NewWriter(io.Discard, io.Discard, "jsonl", "bench", false)
		sum, err := Files(context.Background(), []string{path}, Options{}, w)
		if err != nil {
			b.Fatal(err)
		}
		w.Close(sum)
	}
}

// BenchmarkNotUTF8Hint compares the check text runs on every chunk of
// plain text with utf8.Valid, on 1 MiB (a chunk) of the plain corpus,
// about half of whose bytes are in multi-byte characters.
func BenchmarkNotUTF8Hint(b *testing.B) {
	var buf bytes.Buffer
	if _, err := corpus.WritePlain(&buf, 1<<20, 3); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for _, bc := range []struct {
		name string
		f    func([]byte) bool
	}{{"hint", notUTF8Hint}, {"utf8.Valid", func(b []byte) bool { return !utf8.Valid(b) }}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if bc.f(data) {
					b.Fatal("not UTF-8")
				}
			}
		})
	}
}
