// Package sqlite is the embedded custos.EventStore: access events, login
// events, the subject blind index, alerts, consumer offsets and API tokens
// in one SQLite database (<data dir>/custos.db) through the pure-Go driver
// modernc.org/sqlite.
//
// Writes are group-committed: every AppendAccess, AppendLogins, SetOffset
// and token change is queued to one writer goroutine, which merges whatever
// is waiting into a single transaction and fsyncs once for the group
// (WAL, synchronous=FULL) before answering each caller. Reads go through a
// separate pool of read-only connections and never wait for the writer.
//
// The schema is versioned: numbered SQL files under migrations/ are
// embedded in the binary and applied in order, each in its own
// transaction. A database written by a newer build is refused.
//
// History is ordered by the store's sequence number ("newest first" is
// highest seq first, the order Query.Before pages in); time bounds are
// half-open, From <= time < To. The writer reads the next sequence numbers
// under the write lock at the start of each group transaction, so they
// stay unique and increasing even if a second process writes the file;
// one process per data directory is still the intended use.
package sqlite
