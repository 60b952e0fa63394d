package ledger

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/store/storetest"
	"github.com/transparency-dev/tessera/api/layout"
)

// tamperFixture is a ledger of 700 store events, witnessed every 100, with
// the checkpoint of size 300 kept as an operator would keep a trusted one.
type tamperFixture struct {
	base       string
	dir        string
	witnessDir string
	vkey       string
	store      *sqlite.Store
	cp300      []byte
	cpLatest   []byte
}

func newTamperFixture(t *testing.T) *tamperFixture {
	t.Helper()
	ctx := t.Context()
	base := t.TempDir()
	fx := &tamperFixture{base: base, dir: filepath.Join(base, "ledger"), witnessDir: filepath.Join(base, "witness")}
	st, err := sqlite.Open(ctx, filepath.Join(base, "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx.store = st
	var events []custos.AccessEvent
	for i := range 700 {
		events = append(events, storetest.Access(fmt.Sprintf("e-%05d", i), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("agent-%d", i%7), fmt.Sprintf("11010119900307%04d", i)))
	}
	if _, err := st.AppendAccess(ctx, events); err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, fx.dir, nil)
	fx.vkey = l.VerifierKey()
	w, err := OpenFileWitness(fx.witnessDir, fx.vkey)
	if err != nil {
		t.Fatal(err)
	}
	l.opts.Witness = w
	for range 7 {
		if _, err := l.CatchUp(ctx, st, 100); err != nil {
			t.Fatal(err)
		}
		waitCheckpoint(t, l)
		if err := l.WitnessNow(ctx); err != nil {
			t.Fatal(err)
		}
		if size, _ := l.Size(ctx); size == 300 {
			fx.cp300, _ = l.Checkpoint(ctx)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fx.cpLatest, _ = os.ReadFile(filepath.Join(fx.dir, logDirName, layout.CheckpointPath))
	return fx
}

// bundle helpers: a tlog-tiles entry bundle is a sequence of entries,
// each a big-endian uint16 length and the bytes.
func readBundleFile(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(raw) > 0 {
		n := int(binary.BigEndian.Uint16(raw))
		out = append(out, raw[2:2+n])
		raw = raw[2+n:]
	}
	return out
}

func writeBundleFile(t *testing.T, path string, entries [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	for _, e := range entries {
		binary.Write(&buf, binary.BigEndian, uint16(len(e)))
		buf.Write(e)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bundlePath(dir string, n uint64, p uint8) string {
	return filepath.Join(dir, logDirName, layout.EntriesPath(n, p))
}

func TestTamper(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a witnessed 700-entry ledger")
	}
	fx := newTamperFixture(t)
	full := VerifyOptions{LogKey: fx.vkey, WitnessDir: fx.witnessDir, Store: fx.store, Trusted: [][]byte{fx.cp300}}
	if rep := mustVerify(t, fx.dir, full); !rep.Intact() || rep.Size != 700 {
		t.Fatalf("untouched fixture: %+v", rep)
	}

	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		opts   VerifyOptions
		leaf   int64  // the first bad entry Verify must name
		want   string // in the first problem
	}{
		{
			name: "flip a byte in an entry",
			tamper: func(t *testing.T, dir string) {
				p := bundlePath(dir, 1, 0)
				es := readBundleFile(t, p)
				es[300-256][40] ^= 0x01
				writeBundleFile(t, p, es)
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 300, want: "does not match the leaf hash",
		},
		{
			name: "delete an entry",
			tamper: func(t *testing.T, dir string) {
				p := bundlePath(dir, 1, 0)
				es := readBundleFile(t, p)
				writeBundleFile(t, p, append(es[:300-256:300-256], es[301-256:]...))
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 300, want: "does not match the leaf hash",
		},
		{
			name: "reorder two entries",
			tamper: func(t *testing.T, dir string) {
				p := bundlePath(dir, 1, 0)
				es := readBundleFile(t, p)
				es[300-256], es[301-256] = es[301-256], es[300-256]
				writeBundleFile(t, p, es)
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 300, want: "does not match the leaf hash",
		},
		{
			name: "truncate the log",
			tamper: func(t *testing.T, dir string) {
				p := bundlePath(dir, 2, 700-512)
				es := readBundleFile(t, p)
				writeBundleFile(t, p, es[:650-512])
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 650, want: "deleted or truncated",
		},
		{
			name: "delete a whole bundle file",
			tamper: func(t *testing.T, dir string) {
				if err := os.Remove(bundlePath(dir, 1, 0)); err != nil {
					t.Fatal(err)
				}
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 256, want: "unreadable",
		},
		{
			name: "damage a higher hash tile",
			tamper: func(t *testing.T, dir string) {
				// Node 1 of the level-1 tile: the root of entries [256, 512).
				p := filepath.Join(dir, logDirName, layout.TilePath(1, 0, 2))
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				b[40] ^= 0x01
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 256, want: "level-1 hash tile 0, node 1, differs from the hash of entries [256, 512)",
		},
		{
			name: "edit the leaf index",
			tamper: func(t *testing.T, dir string) {
				db, err := sql.Open("sqlite", filepath.Join(dir, indexName))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(`UPDATE leaves SET id = 'e-99999' WHERE leaf = 300`); err != nil {
					t.Fatal(err)
				}
			},
			opts: VerifyOptions{LogKey: fx.vkey},
			leaf: 300, want: "leaf index says",
		},
		{
			name: "roll back to an older checkpoint (witness)",
			tamper: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, logDirName, layout.CheckpointPath), fx.cp300, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			opts: VerifyOptions{LogKey: fx.vkey, WitnessDir: fx.witnessDir},
			leaf: 300, want: "rolled back",
		},
		{
			name: "roll back to an older checkpoint (--from a saved one)",
			tamper: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, logDirName, layout.CheckpointPath), fx.cp300, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			opts: VerifyOptions{LogKey: fx.vkey, Trusted: [][]byte{fx.cpLatest}},
			leaf: 300, want: "rolled back",
		},
		{
			name:   "forgery without the signing key, checked against the store",
			tamper: func(t *testing.T, dir string) { forge(t, fx, dir, 300) },
			opts:   VerifyOptions{LogKey: fx.vkey, Store: fx.store},
			leaf:   300, want: "differs from the event store",
		},
		{
			name:   "forgery without the signing key, checked against the witness",
			tamper: func(t *testing.T, dir string) { forge(t, fx, dir, 300) },
			// The forger also replaced signer.pub, and no key is given:
			// only the witness stands between the forgery and a pass.
			opts: VerifyOptions{WitnessDir: fx.witnessDir},
			leaf: 300, want: "do not hash to the root of the witnessed checkpoint of size 400",
		},
		{
			name:   "forgery without the signing key, checked against saved checkpoints",
			tamper: func(t *testing.T, dir string) { forge(t, fx, dir, 300) },
			// signer.pub is the forger's: the saved checkpoints do not
			// verify with it, and their roots name where the log departs.
			opts: VerifyOptions{Trusted: [][]byte{fx.cp300, fx.cpLatest}},
			leaf: 300, want: "do not hash to the root of the trusted checkpoint of size 700",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ledger")
			copyDir(t, fx.dir, dir)
			tt.tamper(t, dir)
			rep := mustVerify(t, dir, tt.opts)
			if rep.Intact() {
				t.Fatalf("tampered ledger verified as intact: %+v", rep)
			}
			first := rep.FirstBad()
			t.Logf("%s: %v", tt.name, rep.Problems)
			if first.Leaf != tt.leaf || !strings.Contains(first.What, tt.want) {
				t.Errorf("first problem %q, want entry %d and %q; all: %v", first, tt.leaf, tt.want, rep.Problems)
			}
		})
	}
}

// forge replaces the ledger in dir with a consistent forgery: the same
// events except that entry `changed` names another actor, built and
// signed by a new ledger with its own key (the forger does not have the
// original key), index and public key included.
func forge(t *testing.T, fx *tamperFixture, dir string, changed int) {
	t.Helper()
	ctx := t.Context()
	fdir := filepath.Join(t.TempDir(), "forged")
	// The forger copies every entry but one from the public log; here
	// that is done by sealing with the same subject keys.
	os.MkdirAll(fdir, 0o700)
	for _, name := range []string{subjectKeysName, kekName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(fdir, name), b, 0o600)
	}
	l := openLedger(t, fdir, nil)
	events, err := fx.store.AccessSince(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, len(events))
	for i, e := range events {
		if i == changed {
			e.Actor.ID = "someone-else"
		}
		if recs[i], err = l.accessRecord(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{logDirName, indexName, signerPubName, signerKeyName} {
		os.RemoveAll(filepath.Join(dir, name))
		os.Remove(filepath.Join(dir, indexName+"-wal"))
		os.Remove(filepath.Join(dir, indexName+"-shm"))
	}
	copyDir(t, fdir, dir)
}
