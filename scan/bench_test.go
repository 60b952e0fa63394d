package scan

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

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
