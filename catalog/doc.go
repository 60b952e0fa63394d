// Package catalog records which resource holds which personal data: for
// each database column (system, schema.table, column) and each HTTP route
// and JSON path, the data type, its category and whether it identifies the
// data subject (the passenger id, the ID number, the phone).
//
// A catalogue is written in YAML (see docs/policy.md) or built from
// `custos scan` findings with FromFindings, then reviewed and edited. The
// policy engine asks it which types and categories a request touches when
// the gateway does not say.
package catalog
