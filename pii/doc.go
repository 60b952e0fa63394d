// Package pii recognizes personal information: it finds identifiers in
// text (national ID numbers, phone numbers, bank cards, e-mail addresses,
// names, addresses and the rest of the vocabulary in the root package),
// validates them by their checksums and structure, and says how confident
// it is.
//
// It also owns normalization: the canonical form of each identifier type
// (full-width digits folded, separators removed, ID check letter
// upper-cased) that the blind index hashes and that detectors compare.
//
// pii is used by discovery (custos scan), by the gateways on values and
// response bodies, and by leak tracing. It depends on nothing but the root
// package and must never log or return a raw value in an error.
package pii
