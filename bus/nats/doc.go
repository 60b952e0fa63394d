// Package nats is the scale-out event bus on NATS JetStream (nats.go).
//
// Gateways publish sealed access and login events to one stream, on
// subjects partitioned by a hash of the actor (custos.<stream>.events.<n>;
// a login's actor is its account), so that all of one actor's events are
// in one partition, in publish order. Each event is also published to the
// cross partitions (custos.<stream>.events.x.<n>) of its source address
// and, for a registration, of its identity document, so that the rules
// whose state spans actors (detect.PartCross) see every event they need.
// Each copy carries an id of its own as Nats-Msg-Id: the stream drops a
// republished copy inside its duplicate window (a gateway's retry, a
// spool replay). A batch is acknowledged once every copy is stored.
//
// Detectors share the units of work, actor and cross partitions, through
// leases in a JetStream key-value bucket (<stream>_leases, entries
// expire after the lease TTL):
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
