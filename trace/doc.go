// Package trace attributes a leaked file to its likely sources.
//
// Read turns a leaked file — CSV or TSV with any header and column order,
// XLSX, JSON or NDJSON, a plain text dump or a pasted chat log — into
// records, and finds the identifiers in each with the pii detectors. A
// Tracer normalizes and blind-indexes them and asks a Source (the export
// registry and the access index; store/sqlite implements it, Memory is an
// in-memory one for tests and the evaluation) which exports held each
// record and which actors accessed it. It then ranks exports and actors
// with a probabilistic guilt model in the spirit of Papadimitriou and
// Garcia-Molina ("Data Leakage Detection", IEEE TKDE 2011), adds the
// fingerprint evidence (canary records, order and format watermarks, see
// package export) and says "no confident match" when the evidence does not
// single out a source. docs/tracing.md documents the model, the threshold
// and the evaluation (subpackage traceeval).
//
// Reports carry keyed hashes, masked values and event IDs only: never a
// value read from the leaked file.
package trace
