package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/store/storetest"
	"golang.org/x/mod/sumdb/note"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func testOptions(w Witness) Options {
	return Options{CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 5 * time.Millisecond, Witness: w}
}

func accessRecords(from, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		id := fmt.Sprintf("a-%06d", from+i)
		e := storetest.Access(id, t0.Add(time.Duration(from+i)*time.Second), "agent-7", fmt.Sprintf("11010119900307%04d", (from+i)%10000))
		r, err := AccessRecord(custos.StoredAccess{Seq: int64(from + i + 1), AccessEvent: e})
		if err != nil {
			panic(err)
		}
		recs[i] = r
	}
	return recs
}

func openLedger(t *testing.T, dir string, w Witness) *Ledger {
	t.Helper()
	l, err := Open(t.Context(), dir, testOptions(w))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// waitCheckpoint waits until the published checkpoint covers every
// integrated entry.
func waitCheckpoint(t *testing.T, l *Ledger) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		size, err := l.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := l.Checkpoint(ctx)
		if err == nil {
			if _, rest, ok := strings.Cut(string(raw), "\n"); ok && strings.HasPrefix(rest, fmt.Sprintf("%d\n", size)) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("checkpoint did not catch up")
}

func mustVerify(t *testing.T, dir string, opts VerifyOptions) *Report {
	t.Helper()
	rep, err := Verify(t.Context(), dir, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func TestAppendProofVerify(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ledger")
	l := openLedger(t, dir, nil)
	recs := accessRecords(0, 600)
	leaves, err := l.Append(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range leaves {
		if leaf != uint64(i) {
			t.Fatalf("record %d got leaf %d: appends must keep order", i, leaf)
		}
	}
	// Idempotent by ID, in the same call and across calls.
	again, err := l.Append(ctx, append(recs[590:], recs[595]))
	if err != nil {
		t.Fatal(err)
	}
	if again[0] != 590 || again[10] != 595 {
		t.Fatalf("re-append got leaves %v, want the existing ones", again)
	}
	if size, _ := l.Size(ctx); size != 600 {
		t.Fatalf("size %d after re-append, want 600", size)
	}
	waitCheckpoint(t, l)
	p, err := l.Proof(ctx, "a-000300")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyProof(p, l.verifier); err != nil {
		t.Fatal(err)
	}
	ps, err := l.Proofs(ctx, []string{"a-000001", "a-000599", "nope"})
	if err != nil || len(ps) != 2 || ps["a-000599"].LeafIndex != 599 {
		t.Fatalf("Proofs: %v %v", ps, err)
	}
	for _, p := range ps {
		if err := VerifyProof(p, l.verifier); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Proof(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Proof of unknown id: %v, want ErrNotFound", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, signerKeyName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("signer key mode %v, %v; want 0600", info.Mode(), err)
	}

	// Offline proof, and a proof that was tampered with fails.
	p2, err := ProveEvent(ctx, dir, "a-000599")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyProof(p2, l.verifier); err != nil {
		t.Fatal(err)
	}
	bad := p2
	bad.Entry = []byte(strings.Replace(string(p2.Entry), "agent-7", "agent-8", 1))
	if err := VerifyProof(bad, l.verifier); err == nil {
		t.Fatal("a proof with an edited entry verified")
	}

	rep := mustVerify(t, dir, VerifyOptions{})
	if !rep.Intact() || rep.Checked != 600 || rep.Size != 600 {
		t.Fatalf("intact ledger: %+v", rep)
	}
	// Reopen: appends continue after the existing entries.
	l = openLedger(t, dir, nil)
	leaves, err = l.Append(ctx, accessRecords(600, 10))
	if err != nil || leaves[0] != 600 {
		t.Fatalf("append after reopen: %v %v", leaves, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, VerifyOptions{}); !rep.Intact() || rep.Size != 610 {
		t.Fatalf("after reopen: %+v", rep)
	}
}

func TestFollowStore(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(base, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var events []custos.AccessEvent
	for i := range 1000 {
		events = append(events, storetest.Access(fmt.Sprintf("e-%05d", i), t0.Add(time.Duration(i)*time.Second), "agent-1", "110101199003071234"))
	}
	if _, err := st.AppendAccess(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendLogins(ctx, []custos.LoginEvent{storetest.Login("l-1", t0, "agent-1"), storetest.Login("l-2", t0, "agent-2")}); err != nil {
		t.Fatal(err)
	}
	audits := []custos.AuditEvent{
		{ID: "a-1", Time: t0, Actor: "alice", Action: "approval.approved", Object: "apr_1"},
		{ID: "a-2", Time: t0, Actor: "custos", Action: "policy.reloaded", Object: "policy.yaml"},
	}
	if err := st.AppendAudit(ctx, audits); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "ledger")
	l := openLedger(t, dir, nil)
	lag, err := l.MeasureLag(ctx, st, 10000)
	if err != nil || lag.PendingAccess != 1000 || lag.PendingLogins != 2 || lag.PendingAudit != 2 {
		t.Fatalf("lag before follow: %+v %v", lag, err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Follow(fctx, st, 10*time.Millisecond) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err = l.MeasureLag(ctx, st, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if lag.PendingAccess == 0 && lag.PendingLogins == 0 && lag.PendingAudit == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower did not catch up: %+v", lag)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, VerifyOptions{Store: st}); !rep.Intact() || rep.Size != 1004 {
		t.Fatalf("followed ledger against the store: %+v", rep)
	}
	// A stored event the ledger has not reached yet is lag, not damage.
	if _, err := st.AppendAccess(ctx, []custos.AccessEvent{storetest.Access("late", t0, "agent-1")}); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, VerifyOptions{Store: st})
	if !rep.Intact() || !strings.Contains(strings.Join(rep.Notes, "\n"), "lag") {
		t.Fatalf("lag should be a note: %+v", rep)
	}
	// Reopened, the follower resumes after the last event, not from 0.
	l = openLedger(t, dir, nil)
	if n, err := l.CatchUp(ctx, st, 100); err != nil || n != 1 {
		t.Fatalf("CatchUp after reopen appended %d (%v), want 1", n, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWitnessRefusesRollbackAndFork(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	dir := filepath.Join(base, "ledger")
	l := openLedger(t, dir, nil)
	w, err := OpenFileWitness(filepath.Join(base, "witness"), l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	l.opts.Witness = w
	if _, err := l.Append(ctx, accessRecords(0, 10)); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, l)
	old, _ := l.Checkpoint(ctx)
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, accessRecords(10, 300)); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, l)
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if l.Witnessed() != 310 {
		t.Fatalf("witnessed %d, want 310", l.Witnessed())
	}
	if _, err := w.Cosign(ctx, old, nil); !errors.Is(err, ErrRollback) {
		t.Fatalf("cosign of an older checkpoint: %v, want ErrRollback", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// A checkpoint of the same size with another root, signed with the
	// ledger key (an insider who has the key and rewrote the log).
	signer, _, err := loadOrCreateKey(dir, signerKeyName, signerPubName, DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(old, note.VerifierList(l.verifier))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(n.Text, "\n")
	lines[1] = "310"
	forged, err := note.Sign(&note.Note{Text: strings.Join(lines, "\n")}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(ctx, forged, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("cosign of a fork: %v, want ErrFork", err)
	}
	ws, err := ReadWitnessed(filepath.Join(base, "witness"), l.VerifierKey())
	if err != nil || len(ws) != 2 || ws[1].Size != 310 {
		t.Fatalf("witness history: %v %v", ws, err)
	}
	if _, err := OpenFileWitness(filepath.Join(base, "witness"), "other+12345678+AQ"); err == nil {
		t.Fatal("witness accepted a second log key")
	}
}

// copyDir copies a directory tree (the tamper cases each damage a copy).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		info, _ := d.Info()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReindexFillsGaps: a crash can leave an earlier batch unindexed while
// a later one is indexed; Open must fill the hole, not just the tail.
func TestReindexFillsGaps(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ledger")
	l := openLedger(t, dir, nil)
	if _, err := l.Append(ctx, accessRecords(0, 600)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ix, err := openIndex(filepath.Join(dir, indexName), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.db.Exec(`DELETE FROM leaves WHERE leaf BETWEEN 100 AND 199`); err != nil {
		t.Fatal(err)
	}
	if err := ix.setComplete(ctx, 50); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if rep := mustVerify(t, dir, VerifyOptions{}); rep.Intact() {
		t.Fatal("Verify missed a hole in the leaf index")
	}
	l = openLedger(t, dir, nil)
	if leaves, err := l.Append(ctx, accessRecords(150, 1)); err != nil || leaves[0] != 150 {
		t.Fatalf("re-append of an entry from the hole: %v %v (want its existing leaf 150)", leaves, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, VerifyOptions{}); !rep.Intact() || rep.Size != 600 {
		t.Fatalf("after reopen: %+v", rep)
	}
}

// TestSameIDOtherKind: event IDs come from ingest clients and each kind
// has its own ID space in the store, so an access and a login may share
// an ID. Both must get an entry; the dedup is per kind.
func TestSameIDOtherKind(t *testing.T) {
	ctx := t.Context()
	l := openLedger(t, filepath.Join(t.TempDir(), "ledger"), nil)
	defer l.Close(ctx)
	recs := []Record{
		{Kind: KindAccess, ID: "evt-1", Seq: 1, Event: []byte(`{"a":1}`)},
		{Kind: KindLogin, ID: "evt-1", Seq: 1, Event: []byte(`{"l":1}`)},
	}
	leaves, err := l.Append(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if leaves[0] == leaves[1] {
		t.Fatalf("an access and a login with the same ID got one entry (leaf %d)", leaves[0])
	}
	again, err := l.Append(ctx, recs)
	if err != nil || again[0] != leaves[0] || again[1] != leaves[1] {
		t.Fatalf("re-append: %v %v, want %v", again, err, leaves)
	}
	if size, _ := l.Size(ctx); size != 2 {
		t.Fatalf("size %d, want 2", size)
	}
}

// TestVerifyTreeEdges verifies logs whose sizes sit on tile boundaries,
// where the higher hash tiles Verify checks are partial, full or absent.
func TestVerifyTreeEdges(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 65,793 entries")
	}
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ledger")
	l := openLedger(t, dir, nil)
	size := 0
	for _, want := range []int{1, 255, 256, 257, 65536, 65536 + 257} {
		recs := make([]Record, want-size)
		for i := range recs {
			recs[i] = Record{Kind: "edge", ID: fmt.Sprintf("t-%06d", size+i), Event: []byte(`{}`)}
		}
		for len(recs) > 0 {
			n := min(len(recs), 8192)
			if _, err := l.Append(ctx, recs[:n]); err != nil {
				t.Fatal(err)
			}
			recs = recs[n:]
		}
		size = want
		waitCheckpoint(t, l)
		if rep := mustVerify(t, dir, VerifyOptions{}); !rep.Intact() || rep.Size != uint64(size) {
			t.Fatalf("size %d: %+v", size, rep)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
