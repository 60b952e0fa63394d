// Package ocsf maps Custos events to the Open Cybersecurity Schema
// Framework (OCSF 1.3) so that SIEMs can take them without a custom
// parser: access events become Datastore Activity (class 6005), login
// events Authentication (class 3002). Custos-specific fields that OCSF has
// no place for (purpose, ticket, subjects' blind-index hashes, the policy
// decision) go under "unmapped" with stable names. See docs/events.md.
package ocsf
