// Package notify delivers detection's alerts to where the security team
// already looks: a webhook (JSON, signed with HMAC-SHA256), syslog with a
// CEF payload for SIEMs (RFC 5424 over UDP or TCP), and e-mail (SMTP).
//
// Delivery is at least once: a Notifier reads the alerts whose current
// severity has not been delivered from the store, hands each to every
// sink, and only then marks it delivered; a crash or a sink that is down
// means the alert is sent again later, never lost. An alert is delivered
// when it first appears and again when its severity changes; suppressed
// alerts (like a recent false positive) and alerts an analyst already
// closed are marked without being sent.
//
// Alerts carry masked values and hashes only (detect guarantees it), so
// nothing a sink receives is a data subject's identifier.
package notify
