package traceeval

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/trace"
)

// Sizes are the leaked sample sizes evaluated.
var Sizes = []int{10, 20, 50, 200}

// Scenario names.
const (
	ScenarioExportFP    = "export leak, fingerprints" // truth: the export (and its recipient)
	ScenarioExportIndex = "export leak, access index only"
	ScenarioBrowse      = "browsing employee (never exported)"
	ScenarioOutside     = "outside leak (customers + unknown people)"
)

// Cell is the result of one scenario at one sample size.
type Cell struct {
	Scenario string `json:"scenario"`
	Size     int    `json:"size"`
	Trials   int    `json:"trials"`
	// Top1 counts trials whose top-ranked suspect is the true source: the
	// export (fingerprint scenario) or the actor (the others). Outside
	// leaks have no true source.
	Top1 int `json:"top1"`
	// Confident counts trials with a confident verdict naming the true
	// source.
	Confident int `json:"confident"`
	// InnocentAbove counts trials where an innocent export or actor is at
	// or above the threshold (the guilt model's probability).
	InnocentAbove int `json:"innocent_above_threshold"`
	// WronglyNamed counts trials whose verdict is confident and names an
	// innocent: a false accusation.
	WronglyNamed int `json:"wrongly_named"`
	// Transforms counts what was done to the leaked samples.
	Resorted, Reformatted, Dropped, Mixed int
}

// Top1Rate is Top1/Trials.
func (c Cell) Top1Rate() float64 { return float64(c.Top1) / float64(max(c.Trials, 1)) }

// Result is an evaluation run.
type Result struct {
	Config    Config  `json:"config"`
	Threshold float64 `json:"threshold"`
	Cells     []Cell  `json:"cells"`
	Build     string  `json:"build_time"`
	Run       string  `json:"run_time"`
}

// Failures lists the targets missed: top-1 >= 99% at 20 records with
// fingerprints, >= 95% from the access index alone at 50 records, and no
// false accusation above the threshold in outside leaks.
func (r *Result) Failures() []string {
	var out []string
	for _, c := range r.Cells {
		switch {
		case c.Scenario == ScenarioExportFP && c.Size == 20 && c.Top1Rate() < 0.99:
			out = append(out, fmt.Sprintf("fingerprinted top-1 at 20 records %.1f%% < 99%%", 100*c.Top1Rate()))
		case c.Scenario == ScenarioExportIndex && c.Size == 50 && c.Top1Rate() < 0.95:
			out = append(out, fmt.Sprintf("access-index top-1 at 50 records %.1f%% < 95%%", 100*c.Top1Rate()))
		case c.Scenario == ScenarioOutside && (c.InnocentAbove > 0 || c.WronglyNamed > 0):
			out = append(out, fmt.Sprintf("%d outside leaks of %d records put someone at or above the threshold", c.InnocentAbove, c.Size))
		}
		if c.WronglyNamed > 0 {
			out = append(out, fmt.Sprintf("%s, %d records: %d confident verdicts named an innocent", c.Scenario, c.Size, c.WronglyNamed))
		}
	}
	return out
}

// Run builds the organization and runs every scenario at every size.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	o, err := build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Config: cfg, Threshold: trace.DefaultThreshold, Build: time.Since(start).Round(time.Millisecond).String()}
	start = time.Now()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x1ea4))
	fp := &trace.Tracer{Index: o.index, Source: o, Keyer: o.keyer}
	idx := &trace.Tracer{Index: o.index, Source: o, Keyer: o.keyer, NoFingerprints: true}
	for _, size := range Sizes {
		cells := map[string]*Cell{}
		for _, sc := range []string{ScenarioExportFP, ScenarioExportIndex, ScenarioBrowse, ScenarioOutside} {
			cells[sc] = &Cell{Scenario: sc, Size: size}
		}
		for trial := 0; trial < cfg.Trials; trial++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			// Leak from an export: traced with and without fingerprints.
			x := r.IntN(len(o.exports))
			data, name, tr, err := o.exportLeak(r, x, size)
			if err != nil {
				return nil, err
			}
			for _, c := range []*Cell{cells[ScenarioExportFP], cells[ScenarioExportIndex]} {
				c.Resorted += b2i(tr.resorted)
				c.Reformatted += b2i(tr.reformatted)
				c.Dropped += b2i(tr.dropped)
				c.Mixed += b2i(tr.mixed)
			}
			truthActor := o.exports[x].Actor
			rep, err := fp.Trace(ctx, bytes.NewReader(data), name)
			if err != nil {
				return nil, err
			}
			score(cells[ScenarioExportFP], rep.Exports, rep.ExportVerdict, o.exports[x].ID, res.Threshold, func(s trace.Suspect) bool { return s.Actor == truthActor })
			if dbg := cfg.Debug; dbg != nil && (len(rep.Exports) == 0 || rep.Exports[0].ID != o.exports[x].ID) {
				fmt.Fprintf(dbg, "FP MISS size=%d x=%s truth=%s tr=%+v known=%d unknown=%d canaries=%d verdict=%s\n", size, o.exports[x].ID, truthActor, tr, rep.Known, rep.Unknown, rep.Canaries, rep.ExportVerdict)
				for _, s := range rep.Exports[:min(3, len(rep.Exports))] {
					fmt.Fprintf(dbg, "   export %s (%s) P=%.4f score=%.2f matched=%d excl=%d canaries=%d confirmed=%v wm=%+v\n", s.ID, s.Actor, s.Probability, s.Score, s.Matched, s.Exclusive, s.Canaries, s.Confirmed, s.Watermark)
				}
			}
			rep, err = idx.Trace(ctx, bytes.NewReader(data), name)
			if err != nil {
				return nil, err
			}
			score(cells[ScenarioExportIndex], rep.Actors, rep.ActorVerdict, truthActor, res.Threshold, nil)
			if dbg := cfg.Debug; dbg != nil && size == 50 && rep.Actors[0].ID != truthActor {
				fmt.Fprintf(dbg, "MISS x=%d truth=%s tr=%+v known=%d unknown=%d\n", x, truthActor, tr, rep.Known, rep.Unknown)
				for _, s := range rep.Actors[:4] {
					fmt.Fprintf(dbg, "   %s P=%.4f score=%.2f matched=%d excl=%d exports=%v\n", s.ID, s.Probability, s.Score, s.Matched, s.Exclusive, s.Exports)
				}
			}

			// Leak from an employee who only browsed.
			a := r.IntN(cfg.Employees)
			for o.exporter[a] {
				a = r.IntN(cfg.Employees)
			}
			data, name = o.browseLeak(r, a, size)
			rep, err = fp.Trace(ctx, bytes.NewReader(data), name)
			if err != nil {
				return nil, err
			}
			score(cells[ScenarioBrowse], rep.Actors, rep.ActorVerdict, actorName(a), res.Threshold, nil)
			if dbg := cfg.Debug; dbg != nil && rep.Actors[0].ID != actorName(a) {
				fmt.Fprintf(dbg, "BROWSE size=%d truth=%s known=%d verdict=%s\n", size, actorName(a), rep.Known, rep.ActorVerdict)
				for _, s := range rep.Actors[:min(3, len(rep.Actors))] {
					fmt.Fprintf(dbg, "   actor %s P=%.4f score=%.2f matched=%d excl=%d confirmed=%v canaries=%d exports=%v\n", s.ID, s.Probability, s.Score, s.Matched, s.Exclusive, s.Confirmed, s.Canaries, s.Exports)
				}
			}

			// Leak from outside: half customers at random, half unknown.
			data, name = o.outsideLeak(r, size)
			rep, err = fp.Trace(ctx, bytes.NewReader(data), name)
			if err != nil {
				return nil, err
			}
			c := cells[ScenarioOutside]
			c.Trials++
			if accused(rep.Exports, res.Threshold, "", nil) || accused(rep.Actors, res.Threshold, "", nil) {
				if dbg := cfg.Debug; dbg != nil {
					fmt.Fprintf(dbg, "OUTSIDE size=%d known=%d unknown=%d canaries=%d\n", size, rep.Known, rep.Unknown, rep.Canaries)
					for _, s := range rep.Actors[:min(3, len(rep.Actors))] {
						fmt.Fprintf(dbg, "   actor %s P=%.4f score=%.2f matched=%d excl=%d\n", s.ID, s.Probability, s.Score, s.Matched, s.Exclusive)
					}
					for _, s := range rep.Exports[:min(3, len(rep.Exports))] {
						fmt.Fprintf(dbg, "   export %s P=%.4f score=%.2f matched=%d excl=%d canaries=%d wm=%+v\n", s.ID, s.Probability, s.Score, s.Matched, s.Exclusive, s.Canaries, s.Watermark)
					}
				}
				c.InnocentAbove++
			}
			if rep.ExportVerdict == trace.VerdictConfident || rep.ActorVerdict == trace.VerdictConfident {
				c.WronglyNamed++
			}
		}
		for _, sc := range []string{ScenarioExportFP, ScenarioExportIndex, ScenarioBrowse, ScenarioOutside} {
			res.Cells = append(res.Cells, *cells[sc])
		}
	}
	res.Run = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// score counts one traced leak whose true source is truth. alsoTrue, if
// set, names suspects that are not false accusations either (the
// recipient's other exports of the same records).
func score(c *Cell, s []trace.Suspect, v trace.Verdict, truth string, threshold float64, alsoTrue func(trace.Suspect) bool) {
	c.Trials++
	if len(s) > 0 && s[0].ID == truth {
		c.Top1++
		if v == trace.VerdictConfident {
			c.Confident++
		}
	} else if v == trace.VerdictConfident && (alsoTrue == nil || !alsoTrue(s[0])) {
		c.WronglyNamed++
	}
	if accused(s, threshold, truth, alsoTrue) {
		c.InnocentAbove++
	}
}

// accused reports whether a suspect other than truth is at or above the
// threshold.
func accused(s []trace.Suspect, threshold float64, truth string, alsoTrue func(trace.Suspect) bool) bool {
	for _, x := range s {
		if x.Probability >= threshold && x.ID != truth && (alsoTrue == nil || !alsoTrue(x)) {
			return true
		}
	}
	return false
}

type transforms struct{ resorted, reformatted, dropped, mixed bool }

// exportLeak samples size rows of export x's file and transforms them the
// way resold lists are: subset (always), re-sorted, reformatted, a column
// dropped, mixed with people from nowhere, written as CSV, JSON or chat.
func (o *org) exportLeak(r *rand.Rand, x, size int) ([]byte, string, transforms, error) {
	t, err := o.file(x)
	if err != nil {
		return nil, "", transforms{}, err
	}
	var tr transforms
	rows := t.Rows
	if size < len(rows) {
		pick := r.Perm(len(rows))[:size]
		slices.Sort(pick)
		sub := make([][]string, size)
		for i, p := range pick {
			sub[i] = slices.Clone(rows[p])
		}
		rows = sub
	}
	cols := slices.Clone(t.Columns)
	if r.IntN(3) == 0 { // re-sorted by phone number
		tr.resorted = true
		slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(digits(a[2]), digits(b[2])) })
	}
	if r.IntN(3) == 0 { // reformatted: dashes, one date form, trimmed
		tr.reformatted = true
		for _, row := range rows {
			d := digits(row[2])
			if len(d) >= 11 {
				d = d[len(d)-11:]
				row[2] = d[:3] + "-" + d[3:7] + "-" + d[7:]
			}
			row[3] = export.FormatDate(row[3], 1)
			row[4] = strings.TrimSpace(row[4])
		}
	}
	if r.IntN(4) == 0 { // the ID column dropped
		tr.dropped = true
		cols = slices.Delete(cols, 1, 2)
		for i := range rows {
			rows[i] = slices.Delete(rows[i], 1, 2)
		}
	}
	if r.IntN(2) == 0 { // a fifth of the rows from nowhere
		tr.mixed = true
		for n := max(1, size/5); n > 0; n-- {
			p := o.cfg.People + r.IntN(o.cfg.People)
			row := personRow(p)
			if tr.dropped {
				row = slices.Delete(row, 1, 2)
			}
			rows = slices.Insert(rows, r.IntN(len(rows)+1), row)
		}
	}
	data, name := write(r, cols, rows)
	return data, name, tr, nil
}

// browseLeak is size people employee a looked up, in any order.
func (o *org) browseLeak(r *rand.Rand, a, size int) ([]byte, string) {
	ps := o.browsed[a]
	pick := r.Perm(len(ps))[:min(size, len(ps))]
	var rows [][]string
	for _, i := range pick {
		rows = append(rows, personRow(int(ps[i])))
	}
	return write(r, columns, rows)
}

// outsideLeak is someone else's list: half the organization's customers
// (drawn at random), half people unknown here.
func (o *org) outsideLeak(r *rand.Rand, size int) ([]byte, string) {
	var rows [][]string
	for i := 0; i < size; i++ {
		p := r.IntN(o.cfg.People)
		if i%2 == 1 {
			p += o.cfg.People
		}
		rows = append(rows, personRow(p))
	}
	return write(r, columns, rows)
}

func digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// write renders rows as CSV (columns shuffled half the time), JSON or a
// pasted chat log.
func write(r *rand.Rand, cols []export.Column, rows [][]string) ([]byte, string) {
	var b bytes.Buffer
	switch r.IntN(3) {
	case 0:
		perm := make([]int, len(cols))
		for i := range perm {
			perm[i] = i
		}
		if r.IntN(2) == 0 {
			r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		w := csv.NewWriter(&b)
		head := make([]string, len(cols))
		for i, p := range perm {
			head[i] = cols[p].Name
		}
		w.Write(head)
		for _, row := range rows {
			out := make([]string, len(row))
			for i, p := range perm {
				out[i] = row[p]
			}
			w.Write(out)
		}
		w.Flush()
		return b.Bytes(), "leak.csv"
	case 1:
		var objs []map[string]string
		for _, row := range rows {
			m := map[string]string{}
			for i, c := range cols {
				m[c.Name] = row[i]
			}
			objs = append(objs, m)
		}
		json.NewEncoder(&b).Encode(objs)
		return b.Bytes(), "leak.json"
	default:
		for i, row := range rows {
			fmt.Fprintf(&b, "[%02d:%02d] 卖家: %s\n", 10+i/60%10, i%60, strings.TrimSpace(strings.Join(row, " ")))
		}
		return b.Bytes(), "chat.txt"
	}
}

// WriteTable prints the result for a terminal.
func (r *Result) WriteTable(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "leak tracing: %d people, %d employees in %d units, %d exports, %d popular people, %d look-ups per employee, %d leaks per cell (seed %d)\n",
		c.People, c.Employees, c.Units, c.Exports, c.Popular, c.Browse, c.Trials, c.Seed)
	fmt.Fprintf(w, "threshold %.2f; organization built in %s, traced in %s\n\n", r.Threshold, r.Build, r.Run)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tRECORDS\tTOP-1\tCONFIDENT\tWRONGLY NAMED\tINNOCENT P >= THRESHOLD\tRESORTED/REFORMATTED/DROPPED/MIXED")
	for _, x := range r.Cells {
		top, conf := fmt.Sprintf("%.1f%%", 100*x.Top1Rate()), fmt.Sprintf("%.1f%%", 100*float64(x.Confident)/float64(max(1, x.Trials)))
		if x.Scenario == ScenarioOutside {
			top, conf = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d of %d\t%d/%d/%d/%d\n", x.Scenario, x.Size, top, conf, x.WronglyNamed, x.InnocentAbove, x.Trials, x.Resorted, x.Reformatted, x.Dropped, x.Mixed)
	}
	tw.Flush()
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(w, "\ntargets missed: %s\n", strings.Join(f, "; "))
	} else {
		fmt.Fprintln(w, "\nall targets met")
	}
}
