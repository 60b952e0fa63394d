package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/trace/traceeval"
)

// TestTraceCommand registers an export in a fresh data directory, leaks
// part of it and checks that 'custos trace' names the export and its
// recipient, in both formats, without printing a value from the file.
func TestTraceCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, initData(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	file := registerLeakedExport(t, dir, st, "exp-cli", "zhao", 40, 70)
	st.Close()

	code, out, errOut := run(t, "trace", "--data", dir, file)
	if code != 0 || !strings.Contains(out, "exports: confident") || !strings.Contains(out, "exp-cli") || !strings.Contains(out, "zhao") {
		t.Fatalf("trace: %d\n%s\n%s", code, out, errOut)
	}
	leaked, _ := os.ReadFile(file)
	if strings.Contains(out, string(leaked[:7])) {
		t.Fatalf("report shows a value from the file:\n%s", out)
	}
	code, out, _ = run(t, "trace", "--data", dir, "--format", "json", file)
	var rep struct {
		ExportVerdict string `json:"export_verdict"`
		Exports       []struct {
			ID        string `json:"id"`
			Confirmed bool   `json:"confirmed"`
		} `json:"exports"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.ExportVerdict != "confident" || !rep.Exports[0].Confirmed {
		t.Fatalf("trace --format json: %d %s", code, out)
	}
	if code, _, errOut := run(t, "trace", "--data", dir, "--format", "xml", file); code != 2 {
		t.Fatalf("bad format: %d %s", code, errOut)
	}
}

// initData runs custos init on dir and returns it.
func initData(t *testing.T, dir string) string {
	t.Helper()
	if code, _, errOut := run(t, "init", "--data", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	return dir
}

// registerLeakedExport registers in reg a fingerprinted export of 300
// mobiles (a canary among them) made by actor, and writes rows [from, to)
// of the recipient's copy to a leaked file, whose path it returns.
func registerLeakedExport(t *testing.T, dir string, reg interface {
	RegisterExport(context.Context, export.Export) error
}, id, actor string, from, to int) string {
	t.Helper()
	key, err := blind.LoadKey(blind.KeyFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := blind.New(key)
	fp := &export.Fingerprinter{Keyer: export.NewKeyer(key), Hash: index.Hash, Pool: export.DemoPool(), Order: true,
		Variants: []export.Variant{export.VariantPhone}}
	tbl := &export.Table{Columns: []export.Column{{Name: "mobile", Type: "cn_mobile"}, {Name: "city"}}}
	for i := range 300 {
		tbl.Rows = append(tbl.Rows, []string{fmt.Sprintf("139%08d", i), "上海"})
	}
	ex := export.Export{ID: id, Actor: actor, Time: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), Channel: custos.ChannelHTTP, System: "crm", Format: "csv"}
	if err := fp.Apply(&ex, tbl); err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterExport(context.Background(), ex); err != nil {
		t.Fatal(err)
	}
	var leak strings.Builder
	for _, row := range tbl.Rows[from:to] {
		leak.WriteString(strings.Join(row, ",") + "\n")
	}
	file := filepath.Join(t.TempDir(), "leak.csv")
	os.WriteFile(file, []byte(leak.String()), 0o600)
	return file
}

// TestTraceCommandAccessIndexAndProofs traces through a real store's
// access index and attaches ledger proofs: a browsing actor is named from
// the access events alone, every evidence event in the ledger carries its
// inclusion proof, and one that is not says why.
func TestTraceCommandAccessIndexAndProofs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, errOut := run(t, "init", "--data", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	key, err := blind.LoadKey(blind.KeyFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := blind.New(key)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	mobile := func(i int) string { return fmt.Sprintf("137%08d", i) }

	// zhao exports people 0..199 (its access event records them); dave
	// looks up people 1000..1019 one at a time and never exports.
	fp := &export.Fingerprinter{Keyer: export.NewKeyer(key), Hash: index.Hash, Order: true}
	tbl := &export.Table{Columns: []export.Column{{Name: "mobile", Type: "cn_mobile"}, {Name: "city"}}}
	for i := 0; i < 200; i++ {
		tbl.Rows = append(tbl.Rows, []string{mobile(i), "广州"})
	}
	ex := export.Export{ID: "exp-zhao", Actor: "zhao", Time: t0, Channel: custos.ChannelHTTP, System: "crm", Format: "csv", EventID: "ev-exp-zhao"}
	if err := fp.Apply(&ex, tbl); err != nil {
		t.Fatal(err)
	}
	events := []custos.AccessEvent{{ID: "ev-exp-zhao", Time: t0, Actor: custos.Actor{ID: "zhao"}, Channel: custos.ChannelHTTP,
		Action: custos.ActionExport, Resource: custos.Resource{System: "crm"}, Subjects: ex.Subjects}}
	for i := 0; i < 20; i++ {
		h, err := index.Hash("cn_mobile", mobile(1000+i))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, custos.AccessEvent{ID: fmt.Sprintf("ev-dave-%02d", i), Time: t0.Add(time.Duration(i+1) * time.Hour),
			Actor: custos.Actor{ID: "dave"}, Channel: custos.ChannelHTTP, Action: custos.ActionRead,
			Resource: custos.Resource{System: "crm"}, Subjects: []custos.Subject{{Type: "cn_mobile", Hash: h}}})
	}
	if _, err := st.AppendAccess(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := st.RegisterExport(ctx, ex); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// The ledger holds every event but dave's last five (as if they were
	// appended after the last checkpoint).
	l, err := ledger.Open(ctx, filepath.Join(dir, "ledger"), ledger.Options{CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var recs []ledger.Record
	for i, ev := range events[:len(events)-5] {
		doc, _ := json.Marshal(ev)
		recs = append(recs, ledger.Record{Kind: ledger.KindAccess, ID: ev.ID, Seq: int64(i + 1), Event: doc})
	}
	if _, err := l.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	type evidence struct {
		EventID    string          `json:"event_id"`
		Proof      json.RawMessage `json:"proof"`
		ProofError string          `json:"proof_error"`
	}
	type suspect struct {
		ID       string     `json:"id"`
		Matched  int        `json:"matched"`
		First    time.Time  `json:"first"`
		Last     time.Time  `json:"last"`
		Evidence []evidence `json:"evidence"`
	}
	var rep struct {
		ExportVerdict string    `json:"export_verdict"`
		ActorVerdict  string    `json:"actor_verdict"`
		Exports       []suspect `json:"exports"`
		Actors        []suspect `json:"actors"`
	}
	traceJSON := func(lines []string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "leak.txt")
		os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		code, out, errOut := run(t, "trace", "--data", dir, "--proofs", "--format", "json", file)
		if code != 0 {
			t.Fatalf("trace --proofs: %d %s", code, errOut)
		}
		rep.Exports, rep.Actors = nil, nil
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}

	// dave's people, pasted one per line: named from the access index.
	var lines []string
	for i := 0; i < 20; i++ {
		lines = append(lines, "客户 "+mobile(1000+i))
	}
	traceJSON(lines)
	if rep.ActorVerdict != "confident" || rep.ExportVerdict != "no confident match" || rep.Actors[0].ID != "dave" || rep.Actors[0].Matched != 20 {
		t.Fatalf("browsing leak: %+v", rep)
	}
	d := rep.Actors[0]
	if !d.First.Equal(t0.Add(time.Hour)) || !d.Last.Equal(t0.Add(20*time.Hour)) || len(d.Evidence) != 20 {
		t.Fatalf("dave: window %s..%s, %d evidence events", d.First, d.Last, len(d.Evidence))
	}
	proved, missing := 0, 0
	for i, e := range d.Evidence {
		var p struct {
			EventID   string `json:"event_id"`
			LeafIndex uint64 `json:"leaf_index"`
		}
		switch {
		case i < 15 && json.Unmarshal(e.Proof, &p) == nil && p.EventID == e.EventID && p.LeafIndex == uint64(i+1):
			proved++
		case i >= 15 && e.Proof == nil && e.ProofError != "":
			missing++
		default:
			t.Errorf("evidence %d: %s proof %s error %q", i, e.EventID, e.Proof, e.ProofError)
		}
	}
	if proved != 15 || missing != 5 {
		t.Errorf("proofs: %d attached, %d missing; want 15 and 5", proved, missing)
	}

	// Found before dave's first look-up: nobody here held these people.
	file := filepath.Join(t.TempDir(), "leak.txt")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	if code, out, errOut := run(t, "trace", "--data", dir, "--before", t0.Add(time.Hour).Format(time.RFC3339), file); code != 0 ||
		!strings.Contains(out, "actors: no confident match") || !strings.Contains(out, "known to the organization: 0;") {
		t.Fatalf("--before: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := run(t, "trace", "--data", dir, "--before", "yesterday", file); code != 2 {
		t.Fatalf("--before yesterday: %d %s", code, errOut)
	}

	// Part of zhao's export: the export's evidence is its event, proved,
	// and so is zhao's access-index entry for it.
	lines = lines[:0]
	for _, row := range tbl.Rows[50:80] {
		lines = append(lines, strings.Join(row, ","))
	}
	traceJSON(lines)
	if rep.ExportVerdict != "confident" || rep.Exports[0].ID != "exp-zhao" || rep.Actors[0].ID != "zhao" {
		t.Fatalf("export leak: %+v", rep)
	}
	for _, s := range []suspect{rep.Exports[0], rep.Actors[0]} {
		if len(s.Evidence) != 1 || s.Evidence[0].EventID != "ev-exp-zhao" || len(s.Evidence[0].Proof) == 0 {
			t.Errorf("%s evidence: %+v", s.ID, s.Evidence)
		}
	}

	// The table says how many evidence events have proofs.
	file = filepath.Join(t.TempDir(), "leak.csv")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	if code, out, errOut := run(t, "trace", "--data", dir, "--proofs", file); code != 0 || !strings.Contains(out, "ledger proofs: 2 of 2 evidence events") {
		t.Fatalf("table: %d\n%s\n%s", code, out, errOut)
	}
}

// TestEvalTraceCommand runs 'custos eval --trace' on a tiny organization:
// the flag reaches the leak-tracing evaluation, both formats print every
// scenario at every size, and --strict turns a missed target into exit 1.
func TestEvalTraceCommand(t *testing.T) {
	if got := traceEvalConfig(false); got.People != 1_000_000 || got.Exports != 10_000 {
		t.Fatalf("custos eval --trace is not the issue's size: %+v", got)
	}
	tiny := traceeval.Config{People: 4000, Employees: 20, Units: 2, Exports: 40, Popular: 100, Browse: 50, Trials: 3, Seed: 1}
	defer func(f func(bool) traceeval.Config) { traceEvalConfig = f }(traceEvalConfig)
	traceEvalConfig = func(bool) traceeval.Config { return tiny }

	out, _, err := runCmd(t, newEvalCmd, "--trace", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res traceeval.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Config.People != 4000 || len(res.Cells) != 4*len(traceeval.Sizes) {
		t.Fatalf("config %+v, %d cells", res.Config, len(res.Cells))
	}
	for _, c := range res.Cells {
		if c.Trials != 3 {
			t.Errorf("%s at %d: %d trials", c.Scenario, c.Size, c.Trials)
		}
	}
	out, _, err = runCmd(t, newEvalCmd, "--trace")
	if err != nil || !strings.Contains(out, "leak tracing: 4000 people") || !strings.Contains(out, traceeval.ScenarioBrowse) {
		t.Fatalf("table: %v\n%s", err, out)
	}
	// The seed is fixed, so a second run gives the same cells: --strict
	// must fail exactly when Failures lists a missed target.
	_, _, err = runCmd(t, newEvalCmd, "--trace", "--strict")
	var ee *exitError
	if fails := res.Failures(); len(fails) > 0 != (errors.As(err, &ee) && ee.code == 1) {
		t.Fatalf("--strict returned %v with failures %v", err, fails)
	}
}
