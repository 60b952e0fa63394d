package cli

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/store/storetest"
)

// The tamper suite through the command line: a witnessed 700-event
// ledger, followed from a real event store, is damaged in each way the
// issue lists, and `custos ledger verify` must exit 3 and name the first
// bad entry. It runs on the POSIX log and on the MariaDB log (Tessera's
// MySQL driver), where the damage is done to the tables instead of the
// files.

const tamperEvents = 700

var tamperT0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// tamperEventsFor is the fixture's store content; forged changes the actor
// of that event (-1: none), as a forger rewriting one access would.
func tamperEventsFor(forged int) []custos.AccessEvent {
	var events []custos.AccessEvent
	for i := range tamperEvents {
		e := storetest.Access(fmt.Sprintf("e-%05d", i), tamperT0.Add(time.Duration(i)*time.Second), fmt.Sprintf("agent-%d", i%7), fmt.Sprintf("11010119900307%04d", i))
		if i == forged {
			e.Actor.ID = "someone-else"
		}
		events = append(events, e)
	}
	return events
}

// cliLedger is one ledger: a data directory (event store and ledger/)
// and, on MariaDB, the database holding its log.
type cliLedger struct {
	data string
	db   string // "" for the POSIX log
}

func (c cliLedger) dir() string { return filepath.Join(c.data, "ledger") }

func (c cliLedger) args() []string {
	if c.db == "" {
		return []string{"--data", c.data}
	}
	return []string{"--data", c.data, "--mysql", mariaDSN(c.db)}
}

func mariaDSN(db string) string { return "root@tcp(127.0.0.1:3306)/" + db }

var tesseraTables = []string{"Tessera", "Checkpoint", "TreeState", "Subtree", "TiledLeaves"}

// mariaRoot connects to the local MariaDB or skips.
func mariaRoot(t *testing.T) *sql.DB {
	t.Helper()
	root, err := sql.Open("mysql", mariaDSN(""))
	if err == nil {
		err = root.PingContext(t.Context())
	}
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("MariaDB at 127.0.0.1:3306: %v", err)
		}
		t.Skipf("MariaDB at 127.0.0.1:3306 unreachable (%v); set CUSTOS_REQUIRE_SERVICES to fail instead", err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// newMariaDB creates an empty database, dropped after the test; with src
// it copies src's Tessera tables into it.
func newMariaDB(t *testing.T, root *sql.DB, src string) string {
	t.Helper()
	name := fmt.Sprintf("custos_cli_tamper_%d", rand.Uint32())
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Exec("DROP DATABASE " + name) })
	if src != "" {
		for _, tb := range tesseraTables {
			for _, q := range []string{
				fmt.Sprintf("CREATE TABLE %s.%s LIKE %s.%s", name, tb, src, tb),
				fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM %s.%s", name, tb, src, tb),
			} {
				if _, err := root.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
	return name
}

// buildLedger stores events in a new store under data and follows them
// into a new ledger (its log in database db when db is set), witnessed
// after every 100 events when w is set. It returns the ledger's verifier
// key and the checkpoint of size 300.
func buildLedger(t *testing.T, root *sql.DB, c cliLedger, events []custos.AccessEvent, w func(vkey string) ledger.Witness, copyKeysFrom string) (string, []byte) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, c.data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AppendAccess(ctx, events); err != nil {
		t.Fatal(err)
	}
	if copyKeysFrom != "" {
		// A forger copies the data keys (he controls the data directory)
		// so that every entry but the one he changes comes out the same.
		os.MkdirAll(c.dir(), 0o700)
		for _, name := range []string{"keys.db", "kek.key"} {
			copyFile(t, filepath.Join(copyKeysFrom, name), filepath.Join(c.dir(), name))
		}
	}
	opts := ledger.Options{CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 5 * time.Millisecond}
	if c.db != "" {
		db, err := sql.Open("mysql", mariaDSN(c.db))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		opts.MySQL = db
		opts.CheckpointInterval = time.Second // Tessera's minimum on MySQL
	}
	open := func() *ledger.Ledger {
		l, err := ledger.Open(ctx, c.dir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	vkey := l.VerifierKey()
	if w != nil {
		// The witness needs the ledger's key, which the first Open creates.
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		opts.Witness = w(vkey)
		l = open()
	}
	var cp300 []byte
	for {
		n, err := l.CatchUp(ctx, st, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		size := waitPublished(t, l)
		if err := l.WitnessNow(ctx); err != nil {
			t.Fatal(err)
		}
		if size == 300 {
			cp300, _ = l.Checkpoint(ctx)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return vkey, cp300
}

// waitPublished waits until the published checkpoint covers every
// integrated entry and returns its size.
func waitPublished(t *testing.T, l *ledger.Ledger) uint64 {
	t.Helper()
	ctx := t.Context()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		size, err := l.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := l.Checkpoint(ctx)
		if err != nil {
			continue
		}
		lines := strings.SplitN(string(raw), "\n", 3)
		if len(lines) < 3 {
			t.Fatalf("checkpoint %q", raw)
		}
		if n, _ := strconv.ParseUint(lines[1], 10, 64); n >= size {
			return n
		}
	}
	t.Fatal("no checkpoint covers the log after 30 s")
	return 0
}

// clone copies c (data directory and database) for one tamper case.
func (c cliLedger) clone(t *testing.T, root *sql.DB) cliLedger {
	t.Helper()
	out := cliLedger{data: filepath.Join(t.TempDir(), "data")}
	copyTree(t, c.data, out.data)
	if c.db != "" {
		out.db = newMariaDB(t, root, c.db)
	}
	return out
}

// bundle reads entry bundle n (p entries when partial) of c's log.
func (c cliLedger) bundle(t *testing.T, root *sql.DB, n uint64, p uint8) [][]byte {
	t.Helper()
	var raw []byte
	var err error
	if c.db == "" {
		raw, err = os.ReadFile(filepath.Join(c.dir(), "log", layout.EntriesPath(n, p)))
	} else {
		err = root.QueryRow("SELECT data FROM "+c.db+".TiledLeaves WHERE tile_index = ?", n).Scan(&raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A tlog-tiles bundle: each entry a big-endian uint16 length and the
	// bytes.
	var out [][]byte
	for len(raw) > 0 {
		l := int(binary.BigEndian.Uint16(raw))
		out = append(out, raw[2:2+l])
		raw = raw[2+l:]
	}
	return out
}

func (c cliLedger) setBundle(t *testing.T, root *sql.DB, n uint64, p uint8, entries [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	for _, e := range entries {
		binary.Write(&buf, binary.BigEndian, uint16(len(e)))
		buf.Write(e)
	}
	var err error
	if c.db == "" {
		err = os.WriteFile(filepath.Join(c.dir(), "log", layout.EntriesPath(n, p)), buf.Bytes(), 0o644)
	} else {
		_, err = root.Exec("UPDATE "+c.db+".TiledLeaves SET data = ? WHERE tile_index = ?", buf.Bytes(), n)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (c cliLedger) removeBundle(t *testing.T, root *sql.DB, n uint64) {
	t.Helper()
	var err error
	if c.db == "" {
		err = os.Remove(filepath.Join(c.dir(), "log", layout.EntriesPath(n, 0)))
	} else {
		_, err = root.Exec("DELETE FROM "+c.db+".TiledLeaves WHERE tile_index = ?", n)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// flipTileByte flips byte off of hash tile level/index (p nodes when
// partial).
func (c cliLedger) flipTileByte(t *testing.T, root *sql.DB, level, index uint64, p uint8, off int) {
	t.Helper()
	path := filepath.Join(c.dir(), "log", layout.TilePath(level, index, p))
	var raw []byte
	var err error
	if c.db == "" {
		raw, err = os.ReadFile(path)
	} else {
		err = root.QueryRow("SELECT nodes FROM "+c.db+".Subtree WHERE level = ? AND `index` = ?", level, index).Scan(&raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	raw[off] ^= 0x01
	if c.db == "" {
		err = os.WriteFile(path, raw, 0o644)
	} else {
		_, err = root.Exec("UPDATE "+c.db+".Subtree SET nodes = ? WHERE level = ? AND `index` = ?", raw, level, index)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (c cliLedger) checkpoint(t *testing.T, root *sql.DB) []byte {
	t.Helper()
	var raw []byte
	var err error
	if c.db == "" {
		raw, err = os.ReadFile(filepath.Join(c.dir(), "log", layout.CheckpointPath))
	} else {
		err = root.QueryRow("SELECT note FROM " + c.db + ".Checkpoint WHERE id = 0").Scan(&raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (c cliLedger) setCheckpoint(t *testing.T, root *sql.DB, cp []byte) {
	t.Helper()
	var err error
	if c.db == "" {
		err = os.WriteFile(filepath.Join(c.dir(), "log", layout.CheckpointPath), cp, 0o644)
	} else {
		_, err = root.Exec("UPDATE "+c.db+".Checkpoint SET note = ? WHERE id = 0", cp)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// replaceWith puts forged's log, leaf index and keys in place of c's,
// leaving the event store and the data keys: what an operator who
// rewrites the ledger without the signing key can do.
func (c cliLedger) replaceWith(t *testing.T, root *sql.DB, forged cliLedger) {
	t.Helper()
	for _, name := range []string{"log", "index.db", "index.db-wal", "index.db-shm", "signer.pub", "signer.key"} {
		if err := os.RemoveAll(filepath.Join(c.dir(), name)); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(forged.dir(), name)
		if _, err := os.Stat(src); err == nil {
			copyTree(t, src, filepath.Join(c.dir(), name))
		}
	}
	if c.db != "" {
		for _, tb := range tesseraTables {
			for _, q := range []string{
				fmt.Sprintf("DELETE FROM %s.%s", c.db, tb),
				fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM %s.%s", c.db, tb, forged.db, tb),
			} {
				if _, err := root.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
}

func TestLedgerTamperCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds witnessed 700-entry ledgers")
	}
	for _, driver := range []string{"posix", "mariadb"} {
		t.Run(driver, func(t *testing.T) { testLedgerTamperCLI(t, driver) })
	}
}

func testLedgerTamperCLI(t *testing.T, driver string) {
	var root *sql.DB
	base := t.TempDir()
	fx := cliLedger{data: filepath.Join(base, "data")}
	forged := cliLedger{data: filepath.Join(base, "forged")}
	if driver == "mariadb" {
		root = mariaRoot(t)
		fx.db = newMariaDB(t, root, "")
		forged.db = newMariaDB(t, root, "")
	}
	witnessDir := filepath.Join(base, "witness")
	vkey, cp300 := buildLedger(t, root, fx, tamperEventsFor(-1), func(vkey string) ledger.Witness {
		w, err := ledger.OpenFileWitness(witnessDir, vkey)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}, "")
	if cp300 == nil {
		t.Fatal("no checkpoint of size 300 was published")
	}
	// What an auditor keeps outside the data directory: the ledger's
	// verifier key and checkpoints saved with `custos ledger checkpoint`.
	keyFile := filepath.Join(base, "ledger.pub")
	cp300File := filepath.Join(base, "cp300")
	cpLatestFile := filepath.Join(base, "cp700")
	os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644)
	os.WriteFile(cp300File, cp300, 0o644)
	os.WriteFile(cpLatestFile, fx.checkpoint(t, root), 0o644)
	// The forger changes event 300 and rebuilds the whole ledger with a
	// key of his own.
	buildLedger(t, root, forged, tamperEventsFor(300), nil, fx.dir())

	verify := func(c cliLedger, flags ...string) (string, error) {
		return runLedgerCmd(t, append(append([]string{"verify"}, c.args()...), flags...)...)
	}
	out, err := verify(fx, "--key", keyFile, "--witness", witnessDir, "--store", "--from", cp300File, "--from", cpLatestFile)
	if err != nil || !strings.Contains(out, fmt.Sprintf("ledger intact: %d entries", tamperEvents)) {
		t.Fatalf("untouched ledger: %v\n%s", err, out)
	}

	// The last bundle is partial: 700 = 2×256 + 188.
	const lastP = tamperEvents - 512
	tests := []struct {
		name   string
		tamper func(t *testing.T, c cliLedger)
		flags  []string
		want   string // the "first bad:" line starts with this
	}{
		{
			name: "flip a byte in an entry",
			tamper: func(t *testing.T, c cliLedger) {
				es := c.bundle(t, root, 1, 0)
				es[300-256][40] ^= 0x01
				c.setBundle(t, root, 1, 0, es)
			},
			flags: []string{"--key", keyFile},
			want:  "entry 300: entry does not match the leaf hash",
		},
		{
			name: "delete an entry",
			tamper: func(t *testing.T, c cliLedger) {
				es := c.bundle(t, root, 1, 0)
				c.setBundle(t, root, 1, 0, append(es[:300-256:300-256], es[301-256:]...))
			},
			flags: []string{"--key", keyFile},
			want:  "entry 300: entry does not match the leaf hash",
		},
		{
			name: "reorder two entries",
			tamper: func(t *testing.T, c cliLedger) {
				es := c.bundle(t, root, 1, 0)
				es[300-256], es[301-256] = es[301-256], es[300-256]
				c.setBundle(t, root, 1, 0, es)
			},
			flags: []string{"--key", keyFile},
			want:  "entry 300: entry does not match the leaf hash",
		},
		{
			name: "truncate the log",
			tamper: func(t *testing.T, c cliLedger) {
				es := c.bundle(t, root, 2, lastP)
				c.setBundle(t, root, 2, lastP, es[:650-512])
			},
			flags: []string{"--key", keyFile},
			want:  "entry 650: missing: bundle 2 holds 138 entries, the checkpoint needs 188 (deleted or truncated)",
		},
		{
			name:   "delete a whole bundle",
			tamper: func(t *testing.T, c cliLedger) { c.removeBundle(t, root, 1) },
			flags:  []string{"--key", keyFile},
			want:   "entry 256: entry bundle 1 unreadable",
		},
		{
			// Node 1 of the level-1 tile is the root of entries [256, 512):
			// the entries are intact, their inclusion proofs would not be.
			name:   "damage a higher hash tile",
			tamper: func(t *testing.T, c cliLedger) { c.flipTileByte(t, root, 1, 0, 2, 40) },
			flags:  []string{"--key", keyFile},
			want:   "entry 256: level-1 hash tile 0, node 1, differs from the hash of entries [256, 512) recomputed from the log",
		},
		{
			name: "edit the leaf index",
			tamper: func(t *testing.T, c cliLedger) {
				db, err := sql.Open("sqlite", filepath.Join(c.dir(), "index.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(`UPDATE leaves SET id = 'e-99999' WHERE leaf = 300`); err != nil {
					t.Fatal(err)
				}
			},
			flags: []string{"--key", keyFile},
			want:  "entry 300: leaf index says entry 300 is access e-99999",
		},
		{
			name:   "roll back to an older checkpoint, caught by the witness",
			tamper: func(t *testing.T, c cliLedger) { c.setCheckpoint(t, root, cp300) },
			flags:  []string{"--key", keyFile, "--witness", witnessDir},
			want:   "entry 300: log has 300 entries but a witnessed checkpoint of size 400 exists: rolled back or truncated",
		},
		{
			name:   "roll back to an older checkpoint, caught by --from",
			tamper: func(t *testing.T, c cliLedger) { c.setCheckpoint(t, root, cp300) },
			flags:  []string{"--key", keyFile, "--from", cpLatestFile},
			want:   "entry 300: log has 300 entries but a trusted checkpoint of size 700 exists: rolled back or truncated",
		},
		{
			name:   "consistent forgery without the key, caught by the event store",
			tamper: func(t *testing.T, c cliLedger) { c.replaceWith(t, root, forged) },
			flags:  []string{"--store"}, // the forger replaced signer.pub too
			want:   "entry 300: entry differs from the event store's access seq 301 (id e-00300)",
		},
		{
			name:   "consistent forgery without the key, caught by the witness",
			tamper: func(t *testing.T, c cliLedger) { c.replaceWith(t, root, forged) },
			flags:  []string{"--witness", witnessDir},
			want:   "entry 300: the first 400 entries do not hash to the root of the witnessed checkpoint of size 400: an entry in [300, 400) was changed",
		},
		{
			name:   "consistent forgery without the key, caught by saved checkpoints",
			tamper: func(t *testing.T, c cliLedger) { c.replaceWith(t, root, forged) },
			flags:  []string{"--from", cp300File, "--from", cpLatestFile},
			want:   "entry 300: the first 700 entries do not hash to the root of the trusted checkpoint of size 700: an entry in [300, 700) was changed",
		},
		{
			name:   "consistent forgery without the key, caught by the kept key",
			tamper: func(t *testing.T, c cliLedger) { c.replaceWith(t, root, forged) },
			flags:  []string{"--key", keyFile},
			want:   "checkpoint is not signed by the trusted ledger key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fx.clone(t, root)
			tt.tamper(t, c)
			out, err := verify(c, tt.flags...)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 3 {
				t.Fatalf("verify returned %v, want exit code 3\n%s", err, out)
			}
			if !strings.Contains(out, "first bad: "+tt.want) {
				t.Errorf("verify did not name %q:\n%s", tt.want, out)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies a file or a directory tree.
func copyTree(t *testing.T, src, dst string) {
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
		os.MkdirAll(filepath.Dir(target), 0o700)
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
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
