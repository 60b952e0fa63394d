package pii_test

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/pii/corpus"
)

// loadHandwritten reads testdata/handwritten.txt, strips the ⟦type|value⟧
// markup and returns the text with its labels.
func loadHandwritten(t *testing.T) ([]byte, []corpus.Label) {
	f, err := os.Open("testdata/handwritten.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var text []byte
	var labels []corpus.Label
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for {
			i := strings.Index(line, "⟦")
			if i < 0 {
				break
			}
			j := strings.Index(line[i:], "⟧")
			bar := strings.Index(line[i:], "|")
			if j < 0 || bar < 0 || bar > j {
				t.Fatalf("bad markup in %q", line)
			}
			typ, val := line[i+len("⟦"):i+bar], line[i+bar+1:i+j]
			if !custos.KnownType(typ) {
				t.Fatalf("unknown type %q", typ)
			}
			text = append(text, line[:i]...)
			labels = append(labels, corpus.Label{Type: typ, Offset: len(text), Length: len(val)})
			text = append(text, val...)
			line = line[i+j+len("⟧"):]
		}
		text = append(text, line...)
		text = append(text, '\n')
	}
	return text, labels
}

// TestHandwritten reports how the detectors do on hand-written lines and
// fails if fewer than 90 % of the labels are found exactly or more than
// 5 % of matches are wrong. Misses are printed so the limits stay visible.
func TestHandwritten(t *testing.T) {
	text, labels := loadHandwritten(t)
	scores, errs := evaluate(text, labels, pii.Find(text))
	var tp, fp, fn int
	var types []string
	for ty, s := range scores {
		tp, fp, fn = tp+s.tp, fp+s.fp, fn+s.fn
		types = append(types, ty)
	}
	sort.Strings(types)
	var b strings.Builder
	for _, ty := range types {
		s := scores[ty]
		fmt.Fprintf(&b, "%-14s tp %3d fp %3d fn %3d\n", ty, s.tp, s.fp, s.fn)
	}
	t.Logf("handwritten: %d labels, tp %d fp %d fn %d\n%s", len(labels), tp, fp, fn, b.String())
	for _, e := range errs {
		t.Log(e)
	}
	if r := float64(tp) / float64(tp+fn); r < 0.9 {
		t.Errorf("recall %.3f < 0.9", r)
	}
	if p := float64(tp) / float64(tp+fp); p < 0.95 {
		t.Errorf("precision %.3f < 0.95", p)
	}
}
