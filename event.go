package custos

import "time"

// EventVersion is the version of the AccessEvent and LoginEvent documents
// this build reads and writes. Changing a field's meaning or removing a
// field requires a new version; adding an optional field does not.
const EventVersion = 1

// AccessEvent records one access to personal data: who, from where, through
// which channel, what they did to which resource, for which purpose, whose
// data it touched and what the gateway decided.
type AccessEvent struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Actor      Actor     `json:"actor"`
	Source     Source    `json:"source,omitzero"`
	Channel    Channel   `json:"channel"`
	Action     Action    `json:"action"`
	Resource   Resource  `json:"resource"`
	Purpose    Purpose   `json:"purpose,omitzero"`
	Subjects   []Subject `json:"subjects,omitempty"`
	DataTypes  []string  `json:"data_types,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	Records    int64     `json:"records"`
	Bytes      int64     `json:"bytes,omitempty"`
	Decision   Decision  `json:"decision,omitempty"`
	Rules      []string  `json:"rules,omitempty"`
	Outcome    Outcome   `json:"outcome,omitempty"`
	// DurationUS is how long the access took, in microseconds (a gateway:
	// from receiving the request to the end of its response); 0 when not
	// measured. Microseconds because a proxied statement often takes less
	// than a millisecond.
	DurationUS int64 `json:"duration_us,omitempty"`
}

// LoginEvent records one authentication attempt against a system that
// holds personal data (or against a Custos gateway).
type LoginEvent struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Account string    `json:"account"`
	Source  Source    `json:"source,omitzero"`
	System  string    `json:"system,omitempty"`
	Method  string    `json:"method,omitempty"`
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	// CredentialFingerprint is a hash of the credential that a breached-
	// password check can compare (hex SHA-1 of the password, as the public
	// range files use). Never the password itself.
	CredentialFingerprint string `json:"credential_fingerprint,omitempty"`
}

// Actor is the person (or service) on whose behalf an access happened.
type Actor struct {
	ID         string            `json:"id"`
	Roles      []string          `json:"roles,omitempty"`
	OrgUnit    string            `json:"org_unit,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Source says where a request came from.
type Source struct {
	IP        string `json:"ip,omitempty"`
	Device    string `json:"device,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Session   string `json:"session,omitempty"`
}

// Resource names what was accessed: the system, the object inside it
// (table, API resource) and the normalized statement or route.
type Resource struct {
	System      string `json:"system"`
	Object      string `json:"object,omitempty"`
	Route       string `json:"route,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Purpose is the declared business reason for an access.
type Purpose struct {
	Name   string `json:"name,omitempty"`
	Ticket string `json:"ticket,omitempty"`
}

// Subject is a data subject touched by an access, named by an identifier.
//
// Value is the identifier as received; it exists only on input and is
// replaced by Hash (the keyed blind index) before the event is stored,
// published or logged. Masked, if set, is a display form that reveals no
// more than the masking conventions allow (138****5678).
type Subject struct {
	Type   string `json:"type"`
	Value  string `json:"value,omitempty"`
	Hash   string `json:"hash,omitempty"`
	Masked string `json:"masked,omitempty"`
}

// ErasedHash replaces the hash of a subject who has been erased (right to
// erasure, end of retention): the event keeps its shape and its place in
// every history but no longer says whom it was about.
const ErasedHash = "erased"

// Channel is how an access reached the data.
type Channel string

const (
	ChannelPostgres Channel = "postgres"
	ChannelMySQL    Channel = "mysql"
	ChannelHTTP     Channel = "http"
	ChannelIngest   Channel = "ingest"
	// ChannelConsole is a search an investigator made in the Custos
	// console: the console records its own users' look-ups like any access.
	ChannelConsole Channel = "console"
)

// Action is what the actor did.
type Action string

const (
	ActionRead   Action = "read"
	ActionSearch Action = "search"
	ActionExport Action = "export"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
	ActionCreate Action = "create"
)

// Decision is what the policy decided for an access.
type Decision string

const (
	DecisionAllow            Decision = "allow"
	DecisionMask             Decision = "mask"
	DecisionDeny             Decision = "deny"
	DecisionApprovalRequired Decision = "approval_required"
)

// Outcome is how an access or a login ended.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeError   Outcome = "error"
)

// Sealed reports whether no subject carries a raw value any more, which is
// the condition for storing or publishing the event.
func (e *AccessEvent) Sealed() bool {
	for _, s := range e.Subjects {
		if s.Value != "" {
			return false
		}
	}
	return true
}
