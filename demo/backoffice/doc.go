// Package backoffice is the demo's airline passenger-service web
// application: search passengers, view their bookings and travel history,
// export flight manifests (CSV and XLSX), as HTML pages and a JSON API.
//
// It stands for the kind of back office Custos's HTTP gateway protects, so
// it does on purpose what such apps do: it shows every field unmasked and
// checks nobody's access. Who is signed in comes from the X-Custos-Actor
// header the gateway injects and is only displayed. Masking, need-to-know,
// quotas and the access record are the gateway's job.
//
// The data is synthetic and deterministic for a seed: a SQLite database of
// (by default) 100,000 passengers, the first of whom are the simulated
// organization's people (sim.Org.People), so its celebrities and
// honeytokens are passengers here too and opening them fires detection.
// The database is generated once into Options.Dir and reused.
package backoffice
