// Package nats is the scale-out event bus on NATS JetStream (nats.go).
//
// Gateways publish sealed access and login events to one stream, on
// subjects partitioned by a hash of the actor (custos.<stream>.events.<n>;
// a login's actor is its account), so that all of one actor's events are
// in one partition, in publish order. Each event carries its id as
// Nats-Msg-Id: the stream drops a republished copy inside its duplicate
// window (a gateway's retry, a spool replay).
//
// Detectors share the partitions through leases in a JetStream key-value
// bucket (<stream>_leases, entries expire after the lease TTL):
// RunPartitions claims a fair share, renews it, hands partitions over when
// a new detector appears and takes over those of a detector whose leases
// expired. A partition's state lives with its owner; the owner reads from
// a stream position it chooses (the one its last snapshot covers) through
// a durable consumer named after the partition, so delivery is
// at-least-once and consumers must be idempotent (Read never hands the
// same stream sequence twice to one reader; event ids dedup the rest).
//
// Spool and Publisher keep the gateway's promise when the bus is down: a
// batch the bus did not acknowledge in time is appended to a local file
// and fsync'd before the gateway answers, and replayed in order when the
// bus returns; or, with FailClosed, the batch is refused.
package nats
