// Package api serves Custos's HTTP API under /api/v1: event and login
// ingest for systems that cannot be proxied, history queries ("who
// accessed this person's data"), health and Prometheus metrics.
//
// Every request but /healthz and /metrics needs a bearer token with the
// right scope. Subject values in query paths are blind-indexed before they
// reach the store and never appear in logs or metrics: logs and metrics
// name the route pattern, not the path.
package api
