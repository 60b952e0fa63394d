package ledger

import (
	"context"
	"fmt"
	"testing"
)

// TestEnsureKeepsKeys: keys are made once per subject, in batches larger
// than one look-up, and a reopened store finds them instead of making
// new ones (a second key for a subject would leave its older entries
// under a key that erasure does not destroy).
func TestEnsureKeepsKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, err := openSubjectKeys(dir, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	var first []string
	for i := range 1200 {
		first = append(first, fmt.Sprintf("%064x", i))
	}
	if err := k.ensure(ctx, append(first, first[:10]...)); err != nil { // repeats within a batch
		t.Fatal(err)
	}
	kids := map[string]string{}
	for _, h := range first {
		sk, err := k.load(ctx, k.db, h)
		if err != nil {
			t.Fatal(err)
		}
		kids[h] = sk.kid
	}
	k.Close()

	k, err = openSubjectKeys(dir, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	fresh := fmt.Sprintf("%064x", 99999)
	if err := k.ensure(ctx, append(first, fresh)); err != nil {
		t.Fatal(err)
	}
	for _, h := range first {
		sk, err := k.load(ctx, k.db, h)
		if err != nil || sk.kid != kids[h] {
			t.Fatalf("subject %s: key %v (%v), was %s", h[:8], sk, err, kids[h])
		}
	}
	var n int
	k.db.QueryRow(`SELECT count(*) FROM subject_keys`).Scan(&n)
	if n != len(first)+1 {
		t.Errorf("%d keys stored, want %d", n, len(first)+1)
	}
}
