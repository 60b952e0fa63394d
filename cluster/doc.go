// Package cluster assembles the role-specific nodes of a scaled-out
// Custos over bus/nats (NATS JetStream) and store/postgres, leaving
// package server as the embedded single-process assembly.
//
//   - gateway: the ingest API (POST /api/v1/events, /logins, and the read
//     API over PostgreSQL). A batch is sealed with the shared blind-index
//     key and published to the bus; the 2xx is sent once the stream has
//     stored it, or once it is fsync'd in the local spool when the bus is
//     down (or the batch is refused with fail_mode: closed).
//   - detector: takes a fair share of the bus partitions (leases): for an
//     actor partition it writes the events to the PostgreSQL index and
//     runs the actor-keyed rules (detect.PartActor); for a cross partition
//     (events by source address and registration document) the rules
//     across actors (detect.PartCross). It upserts the alerts; each
//     engine's state is snapshotted into PostgreSQL with the stream
//     position it covers, so whoever owns the partition next resumes from
//     there. Together the engines raise what one engine over all events
//     raises.
//   - api: the gateway's API plus the ledger, which follows the PostgreSQL
//     store in sequence order (Tessera on MySQL/MariaDB, or POSIX files).
//     Run exactly one api node with the ledger.
//
// Every node serves /healthz (alive) and /readyz (its dependencies answer)
// and Prometheus metrics at /metrics: spool depth, events published and
// spooled, bus lag per partition, events analysed, partitions held.
package cluster
