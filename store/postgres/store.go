package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock keys (pg_advisory_xact_lock). Arbitrary constants that
// only have to be the same in every node.
const (
	lockMigrate int64 = 0x637573746f7301 // "custos" 1
	lockAccess  int64 = 0x637573746f7302
	lockLogins  int64 = 0x637573746f7303
	lockAudit   int64 = 0x637573746f7304
)

// Store is the PostgreSQL custos.EventStore. It is safe for concurrent use
// by many goroutines and many processes.
type Store struct {
	pool *pgxpool.Pool

	mu     sync.Mutex
	parts  map[string]bool // "events/202611" partitions known to exist
	closed bool
}

var _ custos.EventStore = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string; search_path may be given as a parameter to use a
// schema other than public), brings its schema up to date and returns
// the store.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: do not echo it.
		return nil, errors.New("postgres: invalid dsn")
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{pool: pool, parts: map[string]bool{}}, nil
}

// Close closes the connections. It is safe to call more than once; calls
// after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.pool.Close()
	return nil
}

// ErrLocked is returned by Lock when another session holds the lock.
var ErrLocked = errors.New("held by another node")

// Lock takes the lock called name, one per database schema (a cluster),
// on a connection of its own, and holds it until unlock is called or that
// connection is lost. It fails at once with ErrLocked if another session
// holds it. Nodes use it for the work exactly one of them may do, such as
// appending to the ledger.
func (s *Store) Lock(ctx context.Context, name string) (unlock func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: lock %s: %w", name, err)
	}
	var ok bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/' || $1, 0))`, name).Scan(&ok)
	if err == nil && !ok {
		err = ErrLocked
	}
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("postgres: lock %s: %w", name, err)
	}
	// The connection leaves the pool: closing it ends the session, which
	// releases the lock whatever state the connection is in. The server
	// lets go of a closed session's locks only when its backend exits,
	// a moment later, so unlock first releases it explicitly: a Lock
	// right after unlock must find it free.
	pc := conn.Hijack()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pc.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/' || $1, 0))`, name)
		pc.Close(ctx)
	}, nil
}

// Pool is the connection pool, for tests and tools.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

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

// migrate applies pending migrations, each in its own transaction with
// its schema_migrations row, under an advisory lock so that nodes starting
// at once do not race.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockMigrate); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version integer PRIMARY KEY,
				name    text    NOT NULL,
				applied bigint  NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var current int
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if current > len(ms) {
				return fmt.Errorf("database schema version %d is newer than this build of custos supports (%d); run a newer custos", current, len(ms))
			}
			if current >= m.Version {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// month is a partition's name suffix and bounds in Unix nanoseconds.
func month(ns int64) (name string, from, to int64) {
	t := time.Unix(0, ns).UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	return start.Format("200601"), start.UnixNano(), end.UnixNano()
}

// ensurePartitions creates the monthly partitions of parents that the
// times need. It runs inside the append's transaction, under its lock.
func (s *Store) ensurePartitions(ctx context.Context, tx pgx.Tx, times []int64, parents ...string) error {
	need := map[string][2]int64{}
	s.mu.Lock()
	for _, ns := range times {
		name, from, to := month(ns)
		for _, p := range parents {
			if !s.parts[p+"/"+name] {
				need[name] = [2]int64{from, to}
			}
		}
	}
	s.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	for name, b := range need {
		for _, p := range parents {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partitions WHERE parent = $1 AND month = $2)`, p, name).Scan(&exists); err != nil {
				return fmt.Errorf("partition %s_p%s: %w", p, name, err)
			}
			if !exists {
				ddl := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s_p%s PARTITION OF %s FOR VALUES FROM (%d) TO (%d)`, p, name, p, b[0], b[1])
				if _, err := tx.Exec(ctx, ddl); err != nil {
					return fmt.Errorf("create partition %s_p%s: %w", p, name, err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO partitions (parent, month) VALUES ($1, $2) ON CONFLICT DO NOTHING`, p, name); err != nil {
					return fmt.Errorf("record partition %s_p%s: %w", p, name, err)
				}
			}
		}
	}
	return nil
}

// partitionsCreated marks partitions as known once their transaction has
// committed.
func (s *Store) partitionsCreated(times []int64, parents ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ns := range times {
		name, _, _ := month(ns)
		for _, p := range parents {
			s.parts[p+"/"+name] = true
		}
	}
}
