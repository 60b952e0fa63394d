package ledger

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHTTPWitness has a ledger's checkpoints cosigned by a witness on
// "another host" (a WitnessHandler behind HTTP): the ledger verifies
// against the remote witness's history, a rollback is refused through
// the wire, and a log replaced by a re-keyed forgery fails verification
// against the remote witness.
func TestHTTPWitness(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	dir := filepath.Join(base, "ledger")
	l := openLedger(t, dir, nil)
	fw, err := OpenFileWitness(filepath.Join(base, "remote-witness"), l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/api/v1/witness", WitnessHandler{W: fw}))
	defer srv.Close()
	hw := &HTTPWitness{URL: srv.URL + "/api/v1/witness", Key: fw.VerifierKey()}
	l.opts.Witness = hw
	if _, err := l.Append(ctx, accessRecords(0, 10)); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, l)
	old, _ := l.Checkpoint(ctx)
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, accessRecords(10, 290)); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, l)
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if l.Witnessed() != 300 {
		t.Fatalf("witnessed %d, want 300", l.Witnessed())
	}
	if cp, err := hw.Latest(ctx, DefaultOrigin); err != nil || cp == nil || cp.Size != 300 {
		t.Fatalf("latest over HTTP: %+v %v", cp, err)
	}
	if _, err := hw.Cosign(ctx, old, nil); !errors.Is(err, ErrRollback) {
		t.Fatalf("cosign of an older checkpoint over HTTP: %v, want ErrRollback", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, VerifyOptions{Witness: hw}); !rep.Intact() || !strings.Contains(strings.Join(rep.Anchors, " "), "2 witnessed checkpoints") {
		t.Fatalf("verify against the remote witness: %+v", rep)
	}

	// A witness answering with someone else's signature is not trusted.
	impostor := &HTTPWitness{URL: hw.URL, Key: l.VerifierKey()}
	if _, err := impostor.Cosign(ctx, old, nil); err == nil {
		t.Error("a cosignature under the wrong key was accepted")
	}

	// The operator replaces the whole log with a re-keyed forgery.
	forgedDir := filepath.Join(base, "forged")
	f := openLedger(t, forgedDir, nil)
	if _, err := f.Append(ctx, accessRecords(0, 300)); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, f)
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	copyDir(t, forgedDir, dir)
	rep := mustVerify(t, dir, VerifyOptions{Witness: hw})
	if rep.Intact() {
		t.Fatal("a re-keyed forgery verified against the remote witness")
	}
}
