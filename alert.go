package custos

import (
	"encoding/json"
	"time"
)

// AlertStatus is where an alert is in the analysts' workflow.
type AlertStatus string

const (
	AlertOpen          AlertStatus = "open"
	AlertAcknowledged  AlertStatus = "acknowledged"
	AlertResolved      AlertStatus = "resolved"
	AlertFalsePositive AlertStatus = "false_positive"
	// AlertSuppressed is set by the store, not by analysts: a new alert
	// of the same rule and actor (or source) as a recent false positive.
	// It is kept for the record but not delivered.
	AlertSuppressed AlertStatus = "suppressed"
)

// ParseAlertStatus checks a status name.
func ParseAlertStatus(s string) (AlertStatus, bool) {
	switch st := AlertStatus(s); st {
	case AlertOpen, AlertAcknowledged, AlertResolved, AlertFalsePositive, AlertSuppressed:
		return st, true
	}
	return "", false
}

// AlertRecord is an alert as the store keeps it: the columns alerts are
// filtered on, and the detector's whole alert document. Summary and Doc
// carry masked values only. The detector may update an alert (same ID)
// as more evidence arrives; an analyst's status survives those updates.
type AlertRecord struct {
	ID        string
	Rule      string
	Severity  string
	Actor     string // "" for source-only alerts
	SourceIP  string
	FirstSeen time.Time
	LastSeen  time.Time
	Status    AlertStatus
	Summary   string
	Doc       json.RawMessage
}

// SuppressFor is how long an alert marked false positive suppresses new
// alerts of the same rule about the same actor, wherever the actor works
// from (or, for an alert about a source alone, about the same source):
// counted back from the new alert's first evidence.
const SuppressFor = 30 * 24 * time.Hour

// AlertQuery filters alerts; zero fields do not filter. Newest last_seen
// first.
type AlertQuery struct {
	From, To time.Time // on last_seen
	Severity string
	Status   AlertStatus
	Actor    string
	Limit    int
}
