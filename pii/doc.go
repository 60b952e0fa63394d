// Package pii recognizes personal information: it finds identifiers in
// text (national ID numbers, phone numbers, bank cards, e-mail addresses,
// names, addresses and the rest of the vocabulary in the root package),
// validates them by their checksums and structure, and says how confident
// it is.
//
// Find and Detector.AppendMatches scan text in one pass over its bytes:
// cheap anchors (digit runs in any script, '@', ':', '+', a few hundred
// Han characters) start candidates, and only candidates are validated and
// weighed against the context words before them. No regular expressions
// are used; a reused Detector allocates nothing. On CPUs with AVX-512 the
// stretches of text where nothing can start are passed 64 bytes at a time
// by an assembly loop (skip_amd64.s) that decides exactly as the Go loop;
// elsewhere, or with the purego build tag, the Go loop runs alone.
// Classify and Valid judge
// single values (database cells, JSON strings), and ColumnHint reads
// column names. docs/discovery.md documents every type, the confidence
// scale, the decisions taken (mobile segments) and the known limits.
//
// It also owns normalization: the canonical form of each identifier type
// (full-width digits folded, separators removed, ID check letter
// upper-cased) that the blind index hashes and that detectors compare.
//
// pii is used by discovery (custos scan), by the gateways on values and
// response bodies, and by leak tracing. It depends on nothing but the root
// package, x/text and x/sys/cpu, and must never log or return a raw value
// in an error. The
// subpackage corpus generates labelled synthetic text to measure it.
package pii
