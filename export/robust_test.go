package export

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestRobustness measures each watermark against what happens to resold
// lists: a 20-row subset, re-sorted, the ID column dropped, reformatted.
// A mark "detects" when its p-value under the export's key is below 1e-6;
// the wrong-key column is the false-positive rate under another export's
// key. docs/tracing.md quotes this table.
func TestRobustness(t *testing.T) {
	const trials, rows = 60, 20
	k := NewKeyer([]byte("org"))
	x := testIndex(t)
	fp := &Fingerprinter{Keyer: k, Hash: x.Hash, Order: true, Variants: Variants}
	r := rand.New(rand.NewPCG(7, 7))

	type transform struct {
		name string
		fn   func(cols []Column, rows [][]string) ([]Column, [][]string)
	}
	idCol := 1
	resort := func(cols []Column, rs [][]string) ([]Column, [][]string) {
		j := slices.IndexFunc(cols, func(c Column) bool { return c.Type == "cn_mobile" })
		slices.SortFunc(rs, func(a, b []string) int { return strings.Compare(a[j], b[j]) })
		return cols, rs
	}
	drop := func(cols []Column, rs [][]string) ([]Column, [][]string) {
		cols = slices.Delete(slices.Clone(cols), idCol, idCol+1)
		for i := range rs {
			rs[i] = slices.Delete(rs[i], idCol, idCol+1)
		}
		return cols, rs
	}
	reformat := func(cols []Column, rs [][]string) ([]Column, [][]string) {
		for _, row := range rs {
			for j, c := range cols {
				switch c.Type {
				case "cn_mobile":
					n := normalize(c.Type, row[j])
					row[j] = n[:3] + "-" + n[3:7] + "-" + n[7:]
				case "email":
					row[j] = strings.ToLower(row[j])
				case "date_of_birth":
					row[j] = FormatDate(row[j], 0)
				}
			}
			row[len(row)-1] = strings.TrimRight(row[len(row)-1], " ")
		}
		return cols, rs
	}
	transforms := []transform{
		{"subset", func(c []Column, r [][]string) ([]Column, [][]string) { return c, r }},
		{"re-sorted", resort},
		{"ID column dropped", drop},
		{"reformatted", reformat},
	}
	marks := []struct {
		name     string
		score    func(key []byte, recs []*LeakedRecord) Score
		survives map[string]bool
	}{
		{"row order", func(key []byte, recs []*LeakedRecord) Score { return OrderScore(key, recs) },
			map[string]bool{"subset": true, "reformatted": true}},
		{"phone format", func(key []byte, recs []*LeakedRecord) Score { return FormatScore(key, []Variant{VariantPhone}, recs) },
			map[string]bool{"subset": true, "re-sorted": true, "ID column dropped": true}},
		{"e-mail domain case", func(key []byte, recs []*LeakedRecord) Score {
			return FormatScore(key, []Variant{VariantEmailCase}, recs)
		},
			map[string]bool{"subset": true, "re-sorted": true, "ID column dropped": true}},
		{"date format", func(key []byte, recs []*LeakedRecord) Score { return FormatScore(key, []Variant{VariantDate}, recs) },
			map[string]bool{"subset": true, "re-sorted": true}},
		{"trailing space", func(key []byte, recs []*LeakedRecord) Score {
			return FormatScore(key, []Variant{VariantTrailingSpace}, recs)
		},
			map[string]bool{"subset": true, "re-sorted": true}},
	}
	detected := make([][]int, len(marks)) // [mark][transform]
	falsePos := make([]int, len(marks))
	for m := range marks {
		detected[m] = make([]int, len(transforms))
	}
	for i := 0; i < trials; i++ {
		tbl := sampleTable(r, 100)
		id := fmt.Sprintf("exp-%d", i)
		if err := fp.Apply(&Export{ID: id}, tbl); err != nil {
			t.Fatal(err)
		}
		pick := r.Perm(len(tbl.Rows))[:rows]
		slices.Sort(pick)
		for ti, tr := range transforms {
			var sub [][]string
			for _, p := range pick {
				sub = append(sub, slices.Clone(tbl.Rows[p]))
			}
			cols, sub := tr.fn(tbl.Columns, sub)
			recs := leaked(&Table{Columns: cols, Rows: sub})
			for mi, m := range marks {
				if m.score(k.Key(id), recs).PValue < 1e-6 {
					detected[mi][ti]++
				}
				if ti == 0 && m.score(k.Key(id+"-other"), recs).PValue < 1e-6 {
					falsePos[mi]++
				}
			}
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n| mark | subset | re-sorted | ID column dropped | reformatted | wrong key, subset |\n|---|---|---|---|---|---|\n")
	for mi, m := range marks {
		fmt.Fprintf(&report, "| %s |", m.name)
		for ti, tr := range transforms {
			rate := float64(detected[mi][ti]) / trials
			fmt.Fprintf(&report, " %.0f%% |", 100*rate)
			if m.survives[tr.name] && rate < 0.9 {
				t.Errorf("%s should survive %s: detected %.0f%%", m.name, tr.name, 100*rate)
			}
			if !m.survives[tr.name] && rate > 0.1 {
				t.Errorf("%s is not expected to survive %s, yet detected %.0f%%: update the table", m.name, tr.name, 100*rate)
			}
		}
		fmt.Fprintf(&report, " %d of %d |\n", falsePos[mi], trials)
		if falsePos[mi] > 0 {
			t.Errorf("%s: %d false positives under a wrong key", m.name, falsePos[mi])
		}
	}
	t.Log(report.String())
}
