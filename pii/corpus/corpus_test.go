package corpus_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii/corpus"
)

func TestGenerateDeterministic(t *testing.T) {
	a, la := corpus.Generate(3, 64<<10)
	b, lb := corpus.Generate(3, 64<<10)
	if !bytes.Equal(a, b) || len(la) != len(lb) {
		t.Fatal("same seed, different corpus")
	}
	c, _ := corpus.Generate(4, 64<<10)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same corpus")
	}
}

func TestLabels(t *testing.T) {
	text, labels := corpus.Generate(5, 256<<10)
	if !utf8.Valid(text) {
		t.Fatal("corpus is not valid UTF-8")
	}
	seen := map[custos.DataType]int{}
	end := 0
	for _, l := range labels {
		if !custos.KnownType(l.Type) || l.Offset < end || l.Length <= 0 || l.Offset+l.Length > len(text) {
			t.Fatalf("bad label %+v (previous end %d)", l, end)
		}
		v := text[l.Offset : l.Offset+l.Length]
		if !utf8.Valid(v) || bytes.ContainsAny(v, "\n") {
			t.Fatalf("label %+v spans %q", l, v)
		}
		end = l.Offset + l.Length
		seen[l.Type]++
	}
	for _, ty := range custos.DataTypes {
		if seen[ty] == 0 {
			t.Errorf("no %s in the corpus", ty)
		}
	}
}

// TestWrite: Write produces the same bytes as Generate, at least size.
func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	n, err := corpus.Write(&buf, 100<<10, 9)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || n < 100<<10 {
		t.Fatalf("Write returned %d, wrote %d", n, buf.Len())
	}
	text, _ := corpus.Generate(9, 100<<10)
	if !bytes.Equal(buf.Bytes(), text) {
		t.Fatal("Write and Generate differ for the same seed and size")
	}
}

// TestWritePlain: deterministic, at least size bytes, whole lines, and
// about one record line in a hundred.
func TestWritePlain(t *testing.T) {
	var a, b bytes.Buffer
	n, err := corpus.WritePlain(&a, 1<<20, 3)
	if err != nil || n != int64(a.Len()) || n < 1<<20 {
		t.Fatalf("WritePlain: %d bytes (%d buffered), %v", n, a.Len(), err)
	}
	if _, err := corpus.WritePlain(&b, 1<<20, 3); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("WritePlain is not deterministic")
	}
	if !bytes.HasSuffix(a.Bytes(), []byte("\n")) {
		t.Error("last line not whole")
	}
	lines := bytes.Count(a.Bytes(), []byte("\n"))
	records := bytes.Count(a.Bytes(), []byte("：")) // record lines have labels
	if records == 0 || records > lines/10 {
		t.Errorf("%d labelled lines of %d", records, lines)
	}
}
