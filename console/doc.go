// Package console is Custos's web console for investigators, approvers,
// auditors and administrators: server-rendered pages (html/template and
// assets embedded with go:embed, a little htmx) over the event store, the
// alerts, the approvals service and the ledger, in English and Chinese.
//
// The console owns its users and sessions (local accounts with a PBKDF2
// password and TOTP), its authorization (roles with separation of
// duties: see Permissions), CSRF protection, rate-limited login, and the
// audit of its own users' actions. An investigator's subject searches are
// access events in their own right (channel "console", through the ingest
// pipeline) so that they are in the ledger and visible to auditors. The
// console shows masked values and keyed hashes only, never identifiers.
package console
