package ocsf

import (
	"github.com/custos-dev/custos"
)

// Version is the OCSF schema version the mapping targets.
const Version = "1.3.0"

// Class and category identifiers used by the mapping.
const (
	ClassDatastoreActivity = 6005
	ClassAuthentication    = 3002
	CategoryApplication    = 6
	CategoryIAM            = 3
)

// Event is one OCSF event as a JSON-ready map: OCSF classes have many
// optional attributes and a map keeps the output to those we fill.
type Event map[string]any

var datastoreActivity = map[custos.Action]int{
	custos.ActionRead:   1, // Read
	custos.ActionUpdate: 2, // Update
	custos.ActionSearch: 4, // Query
	custos.ActionCreate: 6, // Create
	custos.ActionDelete: 7, // Delete
	custos.ActionExport: 99,
}

// status maps an outcome to OCSF status_id: 1 Success, 2 Failure.
func status(o custos.Outcome) (int, string) {
	switch o {
	case custos.OutcomeSuccess, "":
		return 1, "Success"
	case custos.OutcomeFailure, custos.OutcomeError:
		return 2, "Failure"
	}
	return 0, "Unknown"
}

// disposition maps a policy decision to OCSF disposition_id.
func disposition(d custos.Decision) (int, string) {
	switch d {
	case custos.DecisionAllow, "":
		return 1, "Allowed"
	case custos.DecisionDeny:
		return 2, "Blocked"
	case custos.DecisionMask:
		return 1, "Allowed" // allowed with masking: see unmapped.custos.decision
	case custos.DecisionApprovalRequired:
		return 2, "Blocked"
	}
	return 0, "Unknown"
}

func metadata(id string, seq int64) map[string]any {
	m := map[string]any{
		"version": Version,
		"uid":     id,
		"product": map[string]any{"name": "Custos", "vendor_name": "Custos"},
	}
	if seq > 0 {
		m["sequence"] = seq
	}
	return m
}

func endpoint(s custos.Source) map[string]any {
	m := map[string]any{}
	if s.IP != "" {
		m["ip"] = s.IP
	}
	if s.Device != "" {
		m["uid"] = s.Device
	}
	return m
}

// Access maps a sealed access event to Datastore Activity (6005).
func Access(e custos.StoredAccess) Event {
	activity, ok := datastoreActivity[e.Action]
	if !ok {
		activity = 0
	}
	statusID, statusName := status(e.Outcome)
	dispID, dispName := disposition(e.Decision)
	user := map[string]any{"uid": e.Actor.ID}
	if len(e.Actor.Roles) > 0 {
		user["groups"] = groups(e.Actor.Roles)
	}
	if e.Actor.OrgUnit != "" {
		user["org"] = map[string]any{"ou_name": e.Actor.OrgUnit}
	}
	actor := map[string]any{"user": user}
	if e.Source.Session != "" {
		actor["session"] = map[string]any{"uid": e.Source.Session}
	}
	subjects := make([]map[string]any, 0, len(e.Subjects))
	for _, s := range e.Subjects {
		subjects = append(subjects, map[string]any{"type": s.Type, "hash": s.Hash, "masked": s.Masked})
	}
	ev := Event{
		"class_uid":      ClassDatastoreActivity,
		"class_name":     "Datastore Activity",
		"category_uid":   CategoryApplication,
		"category_name":  "Application Activity",
		"activity_id":    activity,
		"activity_name":  string(e.Action),
		"type_uid":       ClassDatastoreActivity*100 + activity,
		"severity_id":    1,
		"time":           e.Time.UnixMilli(),
		"time_dt":        e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"status_id":      statusID,
		"status":         statusName,
		"disposition_id": dispID,
		"disposition":    dispName,
		"metadata":       metadata(e.ID, e.Seq),
		"actor":          actor,
		"src_endpoint":   endpoint(e.Source),
		"database":       map[string]any{"name": e.Resource.System},
		"count":          e.Records,
		"unmapped": map[string]any{"custos": map[string]any{
			"channel":    string(e.Channel),
			"decision":   string(e.Decision),
			"rules":      e.Rules,
			"purpose":    e.Purpose.Name,
			"ticket":     e.Purpose.Ticket,
			"subjects":   subjects,
			"data_types": e.DataTypes,
			"categories": e.Categories,
			"bytes":      e.Bytes,
		}},
	}
	if e.Resource.Object != "" {
		ev["table"] = map[string]any{"name": e.Resource.Object}
	}
	if e.DurationUS > 0 {
		// OCSF's duration is in milliseconds; the microseconds stay in
		// unmapped for sub-millisecond statements.
		ev["duration"] = (e.DurationUS + 500) / 1000
		ev["unmapped"].(map[string]any)["custos"].(map[string]any)["duration_us"] = e.DurationUS
	}
	if e.Resource.Fingerprint != "" {
		ev["query_info"] = map[string]any{"uid": e.Resource.Fingerprint}
	}
	if e.Source.UserAgent != "" || e.Resource.Route != "" {
		ev["http_request"] = map[string]any{"user_agent": e.Source.UserAgent, "url": map[string]any{"path": e.Resource.Route}}
	}
	return ev
}

// Login maps a login event to Authentication (3002), activity Logon.
func Login(e custos.StoredLogin) Event {
	statusID, statusName := status(e.Outcome)
	ev := Event{
		"class_uid":     ClassAuthentication,
		"class_name":    "Authentication",
		"category_uid":  CategoryIAM,
		"category_name": "Identity & Access Management",
		"activity_id":   1,
		"activity_name": "Logon",
		"type_uid":      ClassAuthentication*100 + 1,
		"severity_id":   1,
		"time":          e.Time.UnixMilli(),
		"time_dt":       e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"status_id":     statusID,
		"status":        statusName,
		"metadata":      metadata(e.ID, e.Seq),
		"user":          map[string]any{"name": e.Account},
		"src_endpoint":  endpoint(e.Source),
	}
	if e.Reason != "" {
		ev["status_detail"] = e.Reason
	}
	if e.System != "" {
		ev["service"] = map[string]any{"name": e.System}
	}
	if e.Method != "" {
		ev["auth_protocol"] = e.Method
	}
	if e.Source.UserAgent != "" {
		ev["http_request"] = map[string]any{"user_agent": e.Source.UserAgent}
	}
	if e.CredentialFingerprint != "" {
		ev["unmapped"] = map[string]any{"custos": map[string]any{"credential_fingerprint": e.CredentialFingerprint}}
	}
	return ev
}

func groups(roles []string) []map[string]any {
	out := make([]map[string]any, len(roles))
	for i, r := range roles {
		out[i] = map[string]any{"name": r}
	}
	return out
}
