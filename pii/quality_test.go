package pii_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/pii/corpus"
)

// qualityTargets are the F1 scores TestQuality asserts per type (the
// issue's targets: 0.995 for checksummed types, phones, e-mail and IP;
// 0.9 for names and addresses). Types without a target are reported only.
var qualityTargets = map[custos.DataType]float64{
	custos.TypeCNID: 0.995, custos.TypeCNUSCC: 0.995, custos.TypeBankCard: 0.995, custos.TypeHKID: 0.995,
	custos.TypeTWID: 0.995, custos.TypeIMEI: 0.995, custos.TypeIBAN: 0.995, custos.TypeUSSSN: 0.995,
	custos.TypeCNMobile: 0.995, custos.TypeCNLandline: 0.995, custos.TypeIntlPhone: 0.995,
	custos.TypeEmail: 0.995, custos.TypeIPv4: 0.995, custos.TypeIPv6: 0.995,
	custos.TypeCNName: 0.9, custos.TypeCNAddress: 0.9,
}

type score struct{ tp, fp, fn int }

func (s score) prf() (p, r, f float64) {
	if s.tp+s.fp > 0 {
		p = float64(s.tp) / float64(s.tp+s.fp)
	}
	if s.tp+s.fn > 0 {
		r = float64(s.tp) / float64(s.tp+s.fn)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return
}

// evaluate scores matches against labels: a true positive has the same
// type, offset and length.
func evaluate(text []byte, labels []corpus.Label, matches []pii.Match) (map[custos.DataType]*score, []string) {
	type key struct {
		t    custos.DataType
		o, l int
	}
	want := make(map[key]bool, len(labels))
	scores := make(map[custos.DataType]*score)
	get := func(t custos.DataType) *score {
		if scores[t] == nil {
			scores[t] = &score{}
		}
		return scores[t]
	}
	for _, l := range labels {
		want[key{l.Type, l.Offset, l.Length}] = true
		get(l.Type)
	}
	var errs []string
	got := make(map[key]bool, len(matches))
	for _, m := range matches {
		k := key{m.Type, m.Offset, m.Length}
		got[k] = true
		if want[k] {
			get(m.Type).tp++
		} else {
			get(m.Type).fp++
			errs = append(errs, fmt.Sprintf("FP %s %q in %q", m.Type, text[m.Offset:m.Offset+m.Length], line(text, m.Offset)))
		}
	}
	for _, l := range labels {
		if !got[key{l.Type, l.Offset, l.Length}] {
			get(l.Type).fn++
			errs = append(errs, fmt.Sprintf("FN %s %q in %q", l.Type, text[l.Offset:l.Offset+l.Length], line(text, l.Offset)))
		}
	}
	return scores, errs
}

func line(text []byte, off int) string {
	s, e := off, off
	for s > 0 && text[s-1] != '\n' {
		s--
	}
	for e < len(text) && text[e] != '\n' {
		e++
	}
	return string(text[s:e])
}

// TestQuality measures precision, recall and F1 per type on a generated
// corpus and asserts the targets.
func TestQuality(t *testing.T) {
	size := 4 << 20
	if testing.Short() {
		size = 1 << 20
	}
	text, labels := corpus.Generate(1, size)
	matches := pii.Find(text)
	scores, errs := evaluate(text, labels, matches)
	types := make([]string, 0, len(scores))
	for ty := range scores {
		types = append(types, ty)
	}
	sort.Strings(types)
	var b strings.Builder
	fmt.Fprintf(&b, "corpus %d bytes, %d labels, %d matches\n", len(text), len(labels), len(matches))
	fmt.Fprintf(&b, "%-14s %7s %6s %6s %7s %7s %7s\n", "type", "tp", "fp", "fn", "P", "R", "F1")
	for _, ty := range types {
		s := scores[ty]
		p, r, f := s.prf()
		fmt.Fprintf(&b, "%-14s %7d %6d %6d %7.4f %7.4f %7.4f\n", ty, s.tp, s.fp, s.fn, p, r, f)
	}
	t.Log("\n" + b.String())
	for i, e := range errs {
		if i == 5000 {
			break
		}
		t.Log(e)
	}
	for ty, target := range qualityTargets {
		s := scores[ty]
		if s == nil {
			t.Errorf("%s: no labels in the corpus", ty)
			continue
		}
		if _, _, f := s.prf(); f < target {
			t.Errorf("%s: F1 %.4f below target %.3f", ty, f, target)
		}
	}
}
