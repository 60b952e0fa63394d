package traceeval

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
)

// Config sizes a synthetic organization and the evaluation.
type Config struct {
	People    int // people in the organization's data
	Employees int // employees; a fifth only browse, the rest also export
	Units     int // units, each with its own customer segment
	Exports   int
	Popular   int // people everybody handles (frequent flyers)
	Browse    int // people each employee looks up one by one
	Trials    int // leaks per scenario and size
	Seed      uint64
	// Debug, if set, receives the top suspects of every miss.
	Debug io.Writer `json:"-"`
}

// Full is the size: 10,000 exports over 1 M people.
func Full() Config {
	return Config{People: 1_000_000, Employees: 500, Units: 25, Exports: 10_000, Popular: 10_000, Browse: 1000, Trials: 200, Seed: 1}
}

// Quick is a small organization for the test suite.
func Quick() Config {
	return Config{People: 40_000, Employees: 60, Units: 6, Exports: 400, Popular: 1000, Browse: 200, Trials: 100, Seed: 1}
}

var t0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

// org is the organization: who exported and who browsed whom. People are
// numbered; person i's identifiers are computed from i.
type org struct {
	cfg       Config
	index     *blind.Index
	keyer     *export.Keyer
	fp        *export.Fingerprinter
	byKey     map[export.Key]int32   // identifier key -> person
	canary    map[export.Key][]int32 // canary identifier key -> exports
	unitOf    []int32                // employee -> unit
	exporter  []bool                 // employee exports
	exports   []export.Export        // without subject lists
	members   [][]int32              // export -> people, in table order
	expOfP    csr                    // person -> exports
	browseOfP csr                    // person -> browsing sightings (actor<<32 | seq)
	browsed   [][]int32              // employee -> people browsed
	exportIx  map[string]int32
}

// csr is a compressed list of lists indexed by person.
type csr struct {
	off  []int32
	vals []int64
}

func buildCSR(n int, pairs func(emit func(p int32, v int64))) csr {
	count := make([]int32, n+1)
	pairs(func(p int32, v int64) { count[p+1]++ })
	for i := 1; i <= n; i++ {
		count[i] += count[i-1]
	}
	c := csr{off: count, vals: make([]int64, count[n])}
	fill := slices.Clone(count[:n])
	pairs(func(p int32, v int64) {
		c.vals[fill[p]] = v
		fill[p]++
	})
	return c
}

func (c *csr) of(p int32) []int64 { return c.vals[c.off[p]:c.off[p+1]] }

// Person i's identifiers. Indexes at or above cfg.People are people from
// nowhere: valid-looking, unknown to the organization.
func personName(i int) string {
	return []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄"}[i%8] + []string{"伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰"}[(i/8)%10]
}

func personMobile(i int) string { return fmt.Sprintf("13%d%08d", 5+i%5, i) }

func personBirth(i int) (y, m, d int) {
	day := (i / 1000) % 16000
	bt := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	return bt.Year(), int(bt.Month()), bt.Day()
}

var regions = []string{"110101", "310101", "440103", "330106", "320102", "510104", "420102", "610113", "500103", "440305", "110105", "310115"}

func personID(i int) string {
	y, m, d := personBirth(i)
	body := fmt.Sprintf("%s%04d%02d%02d%03d", regions[(i/16_000_000)%len(regions)], y, m, d, i%1000)
	w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k := 0; k < 17; k++ {
		sum += int(body[k]-'0') * w[k]
	}
	return body + string("10X98765432"[sum%11])
}

func personDOB(i int) string {
	y, m, d := personBirth(i)
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}

var columns = []export.Column{{Name: "姓名", Type: "cn_name"}, {Name: "证件号码", Type: "cn_id"}, {Name: "手机", Type: "cn_mobile"}, {Name: "出生日期", Type: "date_of_birth"}, {Name: "城市"}}

var cities = []string{"北京", "上海", "广州", "深圳", "成都", "杭州"}

func personRow(i int) []string {
	return []string{personName(i), personID(i), personMobile(i), personDOB(i), cities[i%len(cities)]}
}

func actorName(a int) string { return fmt.Sprintf("emp-%03d", a) }

// build creates the organization. Everything depends on cfg.Seed.
func build(ctx context.Context, cfg Config) (*org, error) {
	index, err := blind.New(bytes.Repeat([]byte{42}, blind.KeySize))
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x7ace))
	keyer := export.NewKeyer([]byte("traceeval org secret"))
	o := &org{
		cfg: cfg, index: index, keyer: keyer,
		fp: &export.Fingerprinter{Keyer: keyer, Hash: index.Hash, Pool: export.DemoPool(), CanaryEvery: 100, Order: true,
			Variants: []export.Variant{export.VariantPhone, export.VariantDate, export.VariantTrailingSpace}},
		byKey:    make(map[export.Key]int32, 2*cfg.People),
		canary:   map[export.Key][]int32{},
		exportIx: map[string]int32{},
	}
	for i := 0; i < cfg.People; i++ {
		if i%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		o.byKey[o.key("cn_mobile", personMobile(i))] = int32(i)
		o.byKey[o.key("cn_id", personID(i))] = int32(i)
	}

	// Segments: people [Popular, People) split among units.
	segSize := (cfg.People - cfg.Popular) / cfg.Units
	segment := func(u int) (lo, hi int) { return cfg.Popular + u*segSize, cfg.Popular + (u+1)*segSize }
	o.unitOf = make([]int32, cfg.Employees)
	o.exporter = make([]bool, cfg.Employees)
	var exporters [][]int // per unit
	exporters = make([][]int, cfg.Units)
	for a := 0; a < cfg.Employees; a++ {
		o.unitOf[a] = int32(a % cfg.Units)
		o.exporter[a] = (a/cfg.Units)%5 != 4 // a fifth of each unit only browses
		if o.exporter[a] {
			exporters[a%cfg.Units] = append(exporters[a%cfg.Units], a)
		}
	}

	// Exports: 30% popular people, 70% from a window of the unit's
	// segment; 3% re-export an earlier export of the unit verbatim.
	lastOfUnit := make([][]int, cfg.Units)
	for x := 0; x < cfg.Exports; x++ {
		u := r.IntN(cfg.Units)
		a := exporters[u][r.IntN(len(exporters[u]))]
		var people []int32
		if prev := lastOfUnit[u]; len(prev) > 0 && r.Float64() < 0.03 {
			src := prev[r.IntN(len(prev))]
			people = slices.Clone(o.members[src])
			if o.exports[src].Actor == actorName(a) {
				a = exporters[u][(slices.Index(exporters[u], a)+1)%len(exporters[u])]
			}
		} else {
			n := 100 + r.IntN(901)
			seen := map[int32]bool{}
			lo, hi := segment(u)
			width := min(hi-lo, 4*n)
			start := lo + r.IntN(hi-lo-width+1)
			for len(people) < n {
				var p int32
				if r.Float64() < 0.3 {
					p = int32(r.IntN(cfg.Popular))
				} else {
					p = int32(start + r.IntN(width))
				}
				if !seen[p] {
					seen[p] = true
					people = append(people, p)
				}
			}
		}
		id := fmt.Sprintf("exp-%05d", x)
		e := export.Export{ID: id, Actor: actorName(a), Time: t0.Add(time.Duration(x) * 10 * time.Minute),
			Channel: custos.ChannelHTTP, System: "booking", Format: "csv",
			Fields:    []string{"姓名", "证件号码", "手机", "出生日期", "城市"},
			Watermark: export.Watermark{Order: o.fp.Order, Variants: o.fp.Variants}, EventID: "ev-" + id}
		// Canaries: the same ones Fingerprinter.Apply plants in the file.
		e.Rows = len(people) + max(1, len(people)/o.fp.CanaryEvery)
		for _, c := range o.fp.Pool.Canaries(keyer.Key(id), max(1, len(people)/o.fp.CanaryEvery)) {
			for _, s := range c.Subjects() {
				if s.Type == "email" {
					continue // no e-mail column
				}
				k := o.key(s.Type, s.Value)
				o.canary[k] = append(o.canary[k], int32(x))
			}
		}
		o.exportIx[id] = int32(x)
		o.exports = append(o.exports, e)
		o.members = append(o.members, people)
		lastOfUnit[u] = append(lastOfUnit[u], x)
	}
	o.expOfP = buildCSR(cfg.People, func(emit func(int32, int64)) {
		for x, m := range o.members {
			for _, p := range m {
				emit(p, int64(x))
			}
		}
	})

	// Browsing: 20% popular, 80% own segment.
	o.browsed = make([][]int32, cfg.Employees)
	for a := 0; a < cfg.Employees; a++ {
		lo, hi := segment(int(o.unitOf[a]))
		seen := map[int32]bool{}
		for len(o.browsed[a]) < cfg.Browse {
			var p int32
			if r.Float64() < 0.2 {
				p = int32(r.IntN(cfg.Popular))
			} else {
				p = int32(lo + r.IntN(hi-lo))
			}
			if !seen[p] {
				seen[p] = true
				o.browsed[a] = append(o.browsed[a], p)
			}
		}
	}
	o.browseOfP = buildCSR(cfg.People, func(emit func(int32, int64)) {
		seq := int64(0)
		for a, ps := range o.browsed {
			for _, p := range ps {
				seq++
				emit(p, int64(a)<<32|seq)
			}
		}
	})
	return o, nil
}

func (o *org) key(t custos.DataType, v string) export.Key {
	h, err := o.index.Hash(t, v)
	if err != nil {
		panic(fmt.Sprintf("traceeval: synthetic %s does not normalize: %v", t, err))
	}
	return export.KeyOf(string(t), h)
}

// ExportHolders implements trace.Source.
func (o *org) ExportHolders(ctx context.Context, keys []export.Key, fn func(int, string, bool)) error {
	for i, k := range keys {
		if xs, ok := o.canary[k]; ok {
			for _, x := range xs {
				fn(i, o.exports[x].ID, true)
			}
			continue
		}
		if p, ok := o.byKey[k]; ok {
			for _, x := range o.expOfP.of(p) {
				fn(i, o.exports[x].ID, false)
			}
		}
	}
	return nil
}

// SubjectSightings implements trace.Source.
func (o *org) SubjectSightings(ctx context.Context, keys []export.Key, fn func(int, export.Sighting)) error {
	for i, k := range keys {
		if p, ok := o.byKey[k]; ok {
			for _, v := range o.browseOfP.of(p) {
				seq := v & 0xffffffff
				fn(i, export.Sighting{Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second), Actor: actorName(int(v >> 32))})
			}
		}
	}
	return nil
}

// ExportsByID implements trace.Source.
func (o *org) ExportsByID(ctx context.Context, ids []string) ([]export.Export, error) {
	out := make([]export.Export, 0, len(ids))
	for _, id := range ids {
		if x, ok := o.exportIx[id]; ok {
			out = append(out, o.exports[x])
		}
	}
	return out, nil
}

// EventIDs implements trace.Source.
func (o *org) EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(seqs))
	for _, q := range seqs {
		out[q] = fmt.Sprintf("ev-browse-%d", q)
	}
	return out, nil
}

// file returns export x as its recipient received it: fingerprinted rows.
func (o *org) file(x int) (*export.Table, error) {
	t := &export.Table{Columns: columns}
	for _, p := range o.members[x] {
		t.Rows = append(t.Rows, personRow(int(p)))
	}
	e := export.Export{ID: o.exports[x].ID}
	if err := o.fp.Apply(&e, t); err != nil {
		return nil, err
	}
	return t, nil
}
