package trace

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
)

var update = flag.Bool("update", false, "rewrite golden files")

// person returns synthetic person i: name, ID number, mobile.
func person(i int) (name, id, mobile string) {
	body := fmt.Sprintf("110101%04d%02d%02d%03d", 1950+i%50, 1+i%12, 1+i%28, i%1000)
	return "王" + []string{"伟", "芳", "娜", "敏"}[i%4], body + string(idCheck(body)), fmt.Sprintf("139%08d", i)
}

type testOrg struct {
	mem   *Memory
	index *blind.Index
	keyer *export.Keyer
	files map[string]*export.Table // export id -> fingerprinted table
}

func newTestOrg(t *testing.T) *testOrg {
	t.Helper()
	ctx := context.Background()
	index, err := blind.New(bytes.Repeat([]byte{7}, blind.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrg{mem: NewMemory(), index: index, keyer: export.NewKeyer([]byte("org secret")), files: map[string]*export.Table{}}
	fp := &export.Fingerprinter{Keyer: o.keyer, Hash: index.Hash, Pool: export.DemoPool(), CanaryEvery: 50,
		Order: true, Variants: []export.Variant{export.VariantPhone, export.VariantTrailingSpace}}
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	seq := 0
	for _, x := range []struct {
		id, actor string
		from, to  int
	}{{"exp-1", "alice", 0, 100}, {"exp-2", "bob", 0, 100}, {"exp-3", "carol", 50, 150}} {
		tbl := &export.Table{Columns: []export.Column{{Name: "name", Type: "cn_name"}, {Name: "id_no", Type: "cn_id"}, {Name: "mobile", Type: "cn_mobile"}, {Name: "city"}}}
		for i := x.from; i < x.to; i++ {
			n, id, m := person(i)
			tbl.Rows = append(tbl.Rows, []string{n, id, m, "北京"})
		}
		seq++
		ex := &export.Export{ID: x.id, Actor: x.actor, Time: t0.Add(time.Duration(seq) * time.Hour), Channel: custos.ChannelHTTP, System: "crm", Format: "csv"}
		if err := fp.Apply(ex, tbl); err != nil {
			t.Fatal(err)
		}
		if err := o.mem.RegisterExport(ctx, *ex); err != nil {
			t.Fatal(err)
		}
		o.files[x.id] = tbl
	}
	// dave only browsed people 200..259, one look-up each.
	for i := 200; i < 260; i++ {
		_, id, _ := person(i)
		h, _ := index.Hash("cn_id", id)
		o.mem.Access(custos.AccessEvent{ID: fmt.Sprintf("ev-%d", i), Time: t0.Add(time.Duration(i) * time.Minute),
			Actor: custos.Actor{ID: "dave"}, Subjects: []custos.Subject{{Type: "cn_id", Hash: h}}})
	}
	return o
}

func csvOf(tbl *export.Table, rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	var head []string
	for _, c := range tbl.Columns {
		head = append(head, c.Name)
	}
	w.Write(head)
	w.WriteAll(rows)
	return b.Bytes()
}

func (o *testOrg) trace(t *testing.T, name string, data []byte, noFP bool, before time.Time) *Report {
	t.Helper()
	tr := &Tracer{Index: o.index, Source: o.mem, Keyer: o.keyer, NoFingerprints: noFP, Before: before}
	rep, err := tr.Trace(context.Background(), bytes.NewReader(data), name)
	if err != nil {
		t.Fatal(err)
	}
	rep.Elapsed = ""
	return rep
}

func TestTrace(t *testing.T) {
	o := newTestOrg(t)
	leakA := csvOf(o.files["exp-1"], o.files["exp-1"].Rows[10:30])
	var chat strings.Builder
	for i := 210; i < 240; i++ {
		n, id, _ := person(i)
		fmt.Fprintf(&chat, "[10:%02d] seller: %s 身份证 %s\n", i%60, n, id)
	}
	var outside strings.Builder
	for i := 5000; i < 5100; i++ {
		_, _, m := person(i)
		fmt.Fprintf(&outside, "%s\n", m)
	}
	// exp-1 (alice) is at 10:00, exp-2 (bob, the same people) at 11:00;
	// dave's look-ups from 12:20.
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		file      string
		data      []byte
		noFP      bool
		before    time.Time
		exportV   Verdict
		topExport string
		actorV    Verdict
		topActor  string
		golden    string
	}{
		{"subset of an export, fingerprinted", "leak.csv", leakA, false, time.Time{}, VerdictConfident, "exp-1", VerdictConfident, "alice", "leak_export.json"},
		{"same leak, index alone: two identical exports", "leak.csv", leakA, true, time.Time{}, VerdictAmbiguous, "", VerdictAmbiguous, "", ""},
		{"same leak, index alone, found before the second export", "leak.csv", leakA, true, t0.Add(90 * time.Minute), VerdictConfident, "exp-1", VerdictConfident, "alice", ""},
		{"same leak, found before either export", "leak.csv", leakA, false, t0.Add(time.Hour), VerdictNone, "", VerdictNone, "", ""},
		{"browsing actor, chat log", "chat.txt", []byte(chat.String()), false, time.Time{}, VerdictNone, "", VerdictConfident, "dave", "leak_browse.json"},
		{"browsing actor, found before the look-ups", "chat.txt", []byte(chat.String()), false, t0.Add(200 * time.Minute), VerdictNone, "", VerdictNone, "", ""},
		{"outside leak", "list.txt", []byte(outside.String()), false, time.Time{}, VerdictNone, "", VerdictNone, "", "leak_outside.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := o.trace(t, tc.file, tc.data, tc.noFP, tc.before)
			if rep.ExportVerdict != tc.exportV || rep.ActorVerdict != tc.actorV {
				t.Fatalf("verdicts %s / %s, want %s / %s\n%s", rep.ExportVerdict, rep.ActorVerdict, tc.exportV, tc.actorV, table(rep))
			}
			if tc.topExport != "" && rep.Exports[0].ID != tc.topExport {
				t.Fatalf("top export %s, want %s\n%s", rep.Exports[0].ID, tc.topExport, table(rep))
			}
			if tc.topActor != "" && rep.Actors[0].ID != tc.topActor {
				t.Fatalf("top actor %s, want %s\n%s", rep.Actors[0].ID, tc.topActor, table(rep))
			}
			if !tc.before.IsZero() && tc.topExport == "" && tc.topActor == "" && (rep.Known != 0 || rep.Canaries != 0 || len(rep.Exports)+len(rep.Actors) != 0) {
				// Nothing before the leak held these people.
				t.Fatalf("before %s: %d known, %d canaries, %d+%d suspects\n%s", tc.before, rep.Known, rep.Canaries, len(rep.Exports), len(rep.Actors), table(rep))
			}
			if tc.golden != "" {
				var b bytes.Buffer
				rep.WriteJSON(&b)
				b.WriteString("\n")
				rep.WriteTable(&b)
				golden(t, tc.golden, b.Bytes())
			}
		})
	}
}

func table(r *Report) string {
	var b bytes.Buffer
	r.WriteTable(&b)
	return b.String()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file; got:\n%s", name, got)
	}
}
