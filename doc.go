// Package custos holds the domain of Custos: the access and login events
// every sensor produces, the vocabulary of personal-data types and
// categories, and the contracts between the pipeline's parts.
//
// It imports only the standard library so that every capability package
// (pii, mask, policy, detect, trace, ledger) and every backend (store/…,
// bus/…) can depend on it without depending on each other.
//
// Events are versioned (see docs/events.md). A Subject carries its raw
// Value only between decoding and blind indexing; everything that is
// stored, logged or published downstream carries the keyed Hash instead.
package custos
