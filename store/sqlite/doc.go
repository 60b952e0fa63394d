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
// One process owns a data directory at a time; the writer assigns sequence
// numbers from memory, so two processes writing one database would clash.
package sqlite
