// Package pgsql reads PostgreSQL SQL text the way the PostgreSQL gateway
// needs it: what kind of statement each one is, which relations it reads and
// writes, which functions it calls, its fingerprint, the custos.* settings it
// makes and the sqlcommenter attributes it carries. It parses with the real
// PostgreSQL parser (pganalyze/pg_query_go), so what it reports is what the
// server will see.
//
// On top of the analysis it decides the statement-level blocks of the
// gateway (Analysis.Blocked): COPY … TO of catalogued tables, unbounded
// SELECT * on catalogued tables, DDL by non-DBA roles, functions that reach
// the server's file system or other servers, and statements that copy
// catalogued data into a new or uncatalogued relation. Each block carries the
// SQLSTATE and a message the gateway returns to the client; messages name
// relations and functions only, never values.
//
// VerifyEndUser checks the signed end-user attribution that an application
// behind a shared service account attaches to its statements (see
// docs/pgsql.md for the signing recipe).
//
// The package does not talk to a server and holds no state: Analyze is safe
// for concurrent use.
package pgsql
