// Package export owns the export registry and per-recipient fingerprinting.
//
// Every bulk export of personal data (a CSV or XLSX download through the
// HTTP gateway, COPY TO or a large result through the PostgreSQL gateway,
// an export reported through the ingest API) is registered as an Export:
// who, when, for which purpose, which fields and which data subjects
// (blind-indexed only), plus the fingerprint it carries. The Registry
// interface is implemented by store/sqlite.
//
// Fingerprints make two exports of the same people by two recipients
// distinguishable after the fact without corrupting real data:
//
//   - canary records: synthetic people unique to the export, built from an
//     organization-owned pool of phone numbers and mailboxes (Pool), and
//     registered as honeytokens;
//   - watermarks in choices that do not change meaning: the row order (a
//     keyed permutation per export) and formatting variants the user
//     enables (phone with or without spaces or +86, date formats, trailing
//     white space, case of e-mail addresses).
//
// Each watermark is a function that rewrites a Table under the export's
// key and a detector that scores a leaked table against a key. Package
// trace uses the detectors; the gateways call Fingerprinter.Apply and
// Registry.RegisterExport. docs/tracing.md says how robust each mark is.
//
// The package never logs or returns raw identifiers: exports hold keyed
// hashes and masked forms only.
package export
