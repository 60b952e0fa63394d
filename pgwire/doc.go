// Package pgwire is Custos's PostgreSQL gateway: a wire-protocol (3.0)
// proxy that sits in front of a real PostgreSQL server so that every
// statement an employee runs is tied to a person and a purpose, checked by
// policy, masked, limited and durably recorded before the client is told
// it is done.
//
// Employees log in to the gateway with their own Custos credentials
// (SCRAM-SHA-256, or a cleartext password over TLS); the gateway connects
// upstream with the credentials of their role, which employees never see.
// Both legs speak jackc/pgx's pgproto3.
//
// Per connection, one goroutine reads the client and one reads the
// upstream server; a queue of pending requests tells the second what each
// response answers. Result columns are masked by provenance (table OID and
// attribute number, resolved through the upstream's catalogue and then
// Custos's catalogue; for views, through their definitions) or, when a
// column has no provenance (expressions, functions), by content with the
// pii detectors. One
// custos.AccessEvent per statement is appended through the event recorder
// and is durable before the ReadyForQuery that ends it is forwarded.
//
// Files: server.go (listener and connection lifecycle), startup.go and
// auth.go (SSL/GSS negotiation, SCRAM), upstream.go (the upstream leg and
// catalogue look-ups), session.go (the message loops, and holding requests
// back behind a result that may be refused), rows.go (masking and limits),
// views.go (the lineage of views), events.go (access events), cancel.go (CancelRequest routing).
// docs/pgwire.md is the user documentation.
package pgwire
