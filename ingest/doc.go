// Package ingest is the single entry point of events into Custos: it
// decodes batches (a JSON array or NDJSON), validates every event against
// the v1 rules, blind-indexes subject values, and appends the batch to the
// event store durably before anyone is told it was accepted.
//
// A batch is all or nothing: one invalid event rejects the whole batch
// with a BatchError that names each bad event's index, field and reason,
// and nothing of it is stored. Gateways call Pipeline directly; the HTTP
// API calls it after decoding. A gateway that has blind-indexed its
// subjects already (for the policy) hands them over sealed through
// AccessSealed, so that each is hashed once.
package ingest
