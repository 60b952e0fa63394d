package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the database file inside the data directory.
const FileName = "custos.db"

// ErrNotFound is returned when a token (or another looked-up row) does not
// exist.
var ErrNotFound = errors.New("not found")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the SQLite custos.EventStore. It is safe for concurrent use.
type Store struct {
	path string
	rdb  *sql.DB // read-only pool
	wdb  *sql.DB // the writer's single connection

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *request
	done   chan struct{} // closed when the writer goroutine has exited

	ckdb *sql.DB // the checkpointer's connection
	// ckMu keeps the background checkpointer and the writer's own WAL
	// truncation (capWAL) from running at once: SQLite lets one
	// checkpoint run at a time and answers the other 'busy'.
	ckMu   *sync.Mutex
	ckStop chan struct{} // closed by Close to stop the checkpointer
	ckDone chan struct{} // closed when the checkpointer has exited

	// The rows the writer committed last, for the followers (tail.go).
	accessTail *tail[custos.StoredAccess]
	loginTail  *tail[custos.StoredLogin]
}

var _ custos.EventStore = (*Store)(nil)

// Options tune a store for work other than serving.
type Options struct {
	// Bulk builds large data sets fast (benchmarks, imports of history):
	// groups of up to 500,000 events, a 4 GiB page cache for the writer,
	// and no fsync at commit. Nothing is durable before Close returns and
	// a crash can corrupt the database: never serve with it.
	Bulk bool
}

// Open opens (creating if needed) the store in dir, brings its schema up to
// date and starts the writer.
func Open(ctx context.Context, dir string) (*Store, error) {
	return OpenWith(ctx, dir, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// SQLite gives the -wal and -shm files the database file's mode, so
	// creating it owner-only first keeps all three from other users.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	f.Close()

	wdb, err := sql.Open("sqlite", dsn(path, false, opts.Bulk))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection: the writer goroutine is the only user, and SQLite
	// allows one writer at a time anyway.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}

	rdb, err := sql.Open("sqlite", dsn(path, true, false))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	rdb.SetConnMaxLifetime(0)
	if err := rdb.PingContext(ctx); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}

	s := &Store{
		path:  path,
		rdb:   rdb,
		wdb:   wdb,
		queue: make(chan *request, 1024),
		done:  make(chan struct{}),
	}
	var maxAccess, maxLogin int64
	err = rdb.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(seq), 0) FROM events), (SELECT coalesce(max(seq), 0) FROM logins)`).Scan(&maxAccess, &maxLogin)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	s.accessTail = newTail(maxAccess, func(seq int64, doc []byte) (custos.StoredAccess, error) {
		a := custos.StoredAccess{Seq: seq}
		return a, decodeDoc(doc, &a.AccessEvent)
	})
	s.loginTail = newTail(maxLogin, func(seq int64, doc []byte) (custos.StoredLogin, error) {
		l := custos.StoredLogin{Seq: seq}
		return l, decodeDoc(doc, &l.LoginEvent)
	})
	ckMu := new(sync.Mutex)
	w, err := newWriter(ctx, wdb, path+"-wal", ckMu)
	if err == nil && opts.Bulk {
		w.maxGroup, w.bulk = bulkGroupEvents, true
	}
	if err == nil {
		w.accessTail, w.loginTail = s.accessTail, s.loginTail
	}
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	ckdb, err := sql.Open("sqlite", dsn(path, false, false))
	if err != nil {
		// Not s.Close: the writer goroutine it waits for is not running yet.
		w.close()
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	ckdb.SetMaxOpenConns(1)
	s.ckdb = ckdb
	s.ckMu = ckMu
	s.ckStop = make(chan struct{})
	s.ckDone = make(chan struct{})
	go func() {
		defer close(s.done)
		w.run(s.queue)
	}()
	go s.checkpoint()
	return s, nil
}

// checkpoint copies committed WAL frames into the database file every
// checkpointEvery, off the writer's path. A page changed by many commits
// in between is written to the database once. PASSIVE never blocks the
// writer or readers; when it has copied everything and no reader holds an
// old snapshot, the next commit starts the WAL file over. Under constant
// reads that moment may never come, so past walTruncateAt the checkpoint
// waits for the readers (the writer waits with it, briefly) and truncates.
func (s *Store) checkpoint() {
	defer close(s.ckDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ckStop:
			s.ckMu.Lock()
			s.ckdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			s.ckMu.Unlock()
			return
		case <-t.C:
			mode := "PASSIVE"
			if fi, err := os.Stat(s.path + "-wal"); err == nil && fi.Size() > walTruncateAt {
				// Readers that never pause (the console's roll-ups, a
				// busy API) keep PASSIVE from ever starting the WAL over:
				// past the limit, wait for them and truncate it.
				mode = "TRUNCATE"
			}
			s.ckMu.Lock()
			s.ckdb.Exec("PRAGMA wal_checkpoint(" + mode + ")")
			s.ckMu.Unlock()
		}
	}
}

const checkpointEvery = 500 * time.Millisecond

// walTruncateAt is the WAL size beyond which a checkpoint waits for
// readers and truncates the file instead of leaving it to grow.
var walTruncateAt int64 = 256 << 20 // a variable for tests

// dsn builds the connection string. Every connection waits up to 10 s for
// a lock instead of failing with SQLITE_BUSY. synchronous=FULL makes each
// commit fsync the WAL, which is what "durable before the 2xx" needs.
func dsn(path string, readOnly, bulk bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	if bulk {
		q.Add("_pragma", "synchronous(OFF)")
	} else {
		q.Add("_pragma", "synchronous(FULL)")
	}
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "cache_size(-32768)") // 32 MiB per reader
		q.Add("_pragma", "query_only(1)")
	} else {
		if bulk {
			q.Add("_pragma", "cache_size(-4194304)") // 4 GiB: the whole blind index
		} else {
			q.Add("_pragma", "cache_size(-131072)") // 128 MiB: index pages stay hot
		}
		// The checkpointer goroutine copies the WAL into the database on
		// its own connection, so commits never pay for it (see checkpoint).
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Close stops accepting writes, lets the writer commit what is already
// queued and closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()

	<-s.done
	var ckErr error
	if s.ckdb != nil {
		close(s.ckStop)
		<-s.ckDone
		ckErr = s.ckdb.Close()
	}
	return errors.Join(s.rdb.Close(), s.wdb.Close(), ckErr)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// migrations returns the embedded migrations in version order.
func migrations() ([]store.Migration, error) {
	return store.Migrations(migrationFiles, "migrations")
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the pending migrations, each in its own transaction
// together with its schema_migrations row, so a crash leaves the database
// at a whole version.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT    NOT NULL,
		applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this build of custos supports (%d); run a newer custos", current, len(ms))
	}
	for _, m := range ms[current:] {
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m store.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have migrated between our read and our lock.
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}
