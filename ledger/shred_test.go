package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/store/storetest"
)

// TestCryptoShredding follows a store into a ledger, checks that the log
// files hold neither the subjects' blind-index hashes nor their masked
// forms, erases one subject, and checks that the log still verifies
// (against its key and the store) while that subject's entries no longer
// open and the others still do.
func TestCryptoShredding(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(base, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := []string{"110101199003071234", "11010119900307567X", "110101199003079999"}
	var events []custos.AccessEvent
	for i := range 30 {
		events = append(events, storetest.Access(fmt.Sprintf("e-%03d", i), t0.Add(time.Duration(i)*time.Second), "agent-1", ids[i%3]))
	}
	if _, err := st.AppendAccess(ctx, events); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "ledger")
	l := openLedger(t, dir, nil)
	if n, err := l.CatchUp(ctx, st, 100); err != nil || n != 30 {
		t.Fatalf("CatchUp: %d %v", n, err)
	}
	waitCheckpoint(t, l)

	// Nothing identifying in the log's files.
	erased := storetest.Hash(ids[0])
	filepath.WalkDir(filepath.Join(dir, logDirName), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, id := range ids {
			if bytes.Contains(b, []byte(storetest.Hash(id))) || bytes.Contains(b, []byte("110***********"+id[len(id)-1:])) {
				t.Errorf("%s holds a subject's hash or masked form", path)
			}
		}
		return nil
	})

	// Sealed subjects open with the key, until it is erased.
	entry := func(i int) sealedAccess {
		t.Helper()
		p, err := l.Proof(ctx, fmt.Sprintf("e-%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		r, err := DecodeRecord(p.Entry)
		if err != nil {
			t.Fatal(err)
		}
		var sa sealedAccess
		if err := json.Unmarshal(r.Event, &sa); err != nil {
			t.Fatal(err)
		}
		return sa
	}
	s0 := entry(0).Subjects[0]
	if h, _, err := l.Unseal(ctx, s0.Type, s0.Key, s0.Sealed); err != nil || h != erased {
		t.Fatalf("unseal before erasure: %q %v", h, err)
	}
	var wrapped []byte
	if err := l.keys.db.QueryRowContext(ctx, `SELECT wrapped FROM subject_keys WHERE subject = ?`, erased).Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	if kid, err := l.Shred(ctx, erased); err != nil || kid != s0.Key {
		t.Fatalf("shred: %q %v (want %s)", kid, err, s0.Key)
	}
	// The key must be gone from the disk too, not only from the table:
	// anyone with a copy of the data directory has the KEK, and a
	// deleted SQLite row stays in its free page and in the WAL.
	keyFiles, _ := filepath.Glob(filepath.Join(dir, subjectKeysName+"*"))
	for _, path := range keyFiles {
		if b, _ := os.ReadFile(path); bytes.Contains(b, wrapped) {
			t.Errorf("%s still holds the erased subject's wrapped data key", path)
		}
	}
	if _, _, err := l.Unseal(ctx, s0.Type, s0.Key, s0.Sealed); !errors.Is(err, ErrShredded) {
		t.Errorf("unseal after erasure: %v, want ErrShredded", err)
	}
	s1 := entry(1).Subjects[0]
	if h, _, err := l.Unseal(ctx, s1.Type, s1.Key, s1.Sealed); err != nil || h != storetest.Hash(ids[1]) {
		t.Errorf("another subject after erasure: %q %v", h, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, VerifyOptions{Store: st})
	if !rep.Intact() || rep.Size != 30 || !strings.Contains(strings.Join(rep.Notes, "\n"), "10 entries name an erased") {
		t.Fatalf("after erasure: %+v", rep)
	}
}

// TestLargeEventDigestsSubjects appends an access event that returned
// 3,000 people — far over Tessera's 64 KiB entry limit with its subjects
// — and checks that the entry commits to the subject list by digest and
// that the ledger verifies against the store.
func TestLargeEventDigestsSubjects(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(base, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	for i := range 3000 {
		ids = append(ids, fmt.Sprintf("11010119900307%04d", i))
	}
	if _, err := st.AppendAccess(ctx, []custos.AccessEvent{storetest.Access("bulk", t0, "agent-1", ids...)}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "ledger")
	l := openLedger(t, dir, nil)
	if n, err := l.CatchUp(ctx, st, 10); err != nil || n != 1 {
		t.Fatalf("CatchUp: %d %v", n, err)
	}
	waitCheckpoint(t, l)
	p, err := l.Proof(ctx, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entry) > 64<<10 || !bytes.Contains(p.Entry, []byte(`"subjects_digest":{"count":3000,"sha256":"`)) {
		t.Fatalf("entry of %d bytes: %.200s", len(p.Entry), p.Entry)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, VerifyOptions{Store: st}); !rep.Intact() {
		t.Fatalf("verify: %+v", rep)
	}
}
