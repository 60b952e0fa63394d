package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/custos-dev/custos"
)

// Severity ranks alerts.
type Severity string

const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// points is what an alert of each severity adds to its actor's risk.
var points = map[Severity]float64{SeverityLow: 10, SeverityMedium: 25, SeverityHigh: 50, SeverityCritical: 90}

// Status is where an alert is in the analyst's workflow.
type Status string

const (
	StatusOpen          Status = "open"
	StatusAcknowledged  Status = "acknowledged"
	StatusResolved      Status = "resolved"
	StatusFalsePositive Status = "false_positive"
)

// MaxEvidence bounds the event ids and subject samples kept per alert.
const MaxEvidence = 20

// Alert is one incident: a rule that matched one actor (or one source,
// for login attacks with no account behind them) over a span of event
// time. An alert returned again by Process with the same ID is an update
// of the same incident; store it by ID.
type Alert struct {
	ID       string   `json:"id"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Actor is the employee or account, nil for source-only alerts.
	Actor    *string `json:"actor"`
	SourceIP string  `json:"source_ip,omitempty"`
	// FirstSeen and LastSeen are the event times of the first and last
	// matching events; DetectedAt is the event time at which the rule
	// first fired (time to detect = DetectedAt − start of the incident).
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	DetectedAt time.Time `json:"detected_at"`
	Summary    string    `json:"summary"`
	// Evidence are event ids, the first MaxEvidence.
	Evidence []string `json:"evidence"`
	// Subjects are masked samples (or hash prefixes) of the data
	// subjects involved, never raw values.
	Subjects  []string `json:"subjects,omitempty"`
	Threshold float64  `json:"threshold"`
	Observed  float64  `json:"observed"`
	// Events counts the matching events grouped into this alert.
	Events int `json:"events"`
	// Risk is the actor's decayed risk score when the alert last changed.
	Risk   float64 `json:"risk,omitempty"`
	Status Status  `json:"status"`
}

// alertID derives a stable id from what identifies the incident, so that
// a replay names alerts as the live run did.
func alertID(rule, key, firstEvent string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + key + "\x00" + firstEvent))
	return "al-" + hex.EncodeToString(h[:10])
}

func (a *Alert) addEvidence(id, subject string) {
	if id != "" && len(a.Evidence) < MaxEvidence {
		a.Evidence = append(a.Evidence, id)
	}
	if subject == "" || len(a.Subjects) >= MaxEvidence {
		return
	}
	for _, s := range a.Subjects {
		if s == subject {
			return
		}
	}
	a.Subjects = append(a.Subjects, subject)
}

// Records turns engine alerts into store records; an alert updated twice
// in one batch is stored once, in its latest form.
func Records(alerts []Alert) []custos.AlertRecord {
	latest := map[string]int{}
	var out []custos.AlertRecord
	for _, a := range alerts {
		doc, err := json.Marshal(a)
		if err != nil {
			continue
		}
		actor := ""
		if a.Actor != nil {
			actor = *a.Actor
		}
		r := custos.AlertRecord{
			ID: a.ID, Rule: a.Rule, Severity: string(a.Severity), Actor: actor, SourceIP: a.SourceIP,
			FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Status: custos.AlertOpen, Summary: a.Summary, Doc: doc,
		}
		if i, ok := latest[a.ID]; ok {
			out[i] = r
			continue
		}
		latest[a.ID] = len(out)
		out = append(out, r)
	}
	return out
}
