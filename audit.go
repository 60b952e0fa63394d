package custos

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEvent records an action taken on Custos itself rather than on
// personal data: an approval step, a policy reload, a watchlist change, an
// actor suspended from the console. Audit events go to the ledger beside
// the accesses they govern, so an administrator who grants himself access
// leaves the same kind of trace as an employee who reads a record.
//
// They carry ids, names of staff and blind-index hashes; never a data
// subject's value.
type AuditEvent struct {
	ID     string            `json:"id"`
	Time   time.Time         `json:"time"`
	Actor  string            `json:"actor"`            // the person, or "custos" for the system itself
	Action string            `json:"action"`           // dotted name, e.g. approval.approved, policy.reloaded
	Object string            `json:"object,omitempty"` // what it acted on: a request id, a file, a subject hash
	Detail map[string]string `json:"detail,omitempty"`
}

// StoredAudit is an audit event with its store sequence number.
type StoredAudit struct {
	Seq int64 `json:"seq"`
	AuditEvent
}

// Validate checks the fields every audit event needs.
func (e AuditEvent) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("audit event: id: required")
	case e.Time.IsZero():
		return fmt.Errorf("audit event %s: time: required", e.ID)
	case e.Actor == "":
		return fmt.Errorf("audit event %s: actor: required", e.ID)
	case e.Action == "":
		return fmt.Errorf("audit event %s: action: required", e.ID)
	}
	return nil
}

// NewAuditEvent is an audit event happening now, with a fresh random id.
func NewAuditEvent(actor, action, object string, detail map[string]string) AuditEvent {
	var b [12]byte
	rand.Read(b[:])
	return AuditEvent{ID: "aud_" + hex.EncodeToString(b[:]), Time: time.Now().UTC(), Actor: actor, Action: action, Object: object, Detail: detail}
}

// EncodeAudit validates audit events and returns each one's stored form
// (its JSON document), in order.
func EncodeAudit(events []AuditEvent) ([][]byte, error) {
	docs := make([][]byte, len(events))
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return nil, err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("audit event %s: %w", e.ID, err)
		}
		docs[i] = b
	}
	return docs, nil
}
