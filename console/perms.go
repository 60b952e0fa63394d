package console

// Permission is something a page or action needs.
type Permission string

const (
	PermOverview  Permission = "overview"  // the overview page
	PermAlerts    Permission = "alerts"    // read the alert queue and alerts
	PermTriage    Permission = "triage"    // change an alert's status, suspend an actor
	PermActors    Permission = "actors"    // read an actor's timeline
	PermSubjects  Permission = "subjects"  // search a subject's history (recorded as an access)
	PermApprovals Permission = "approvals" // approve or deny requests
	PermPolicy    Permission = "policy"    // read the policy and catalogue
	PermAudit     Permission = "audit"     // read the console's own audit
	PermUsers     Permission = "users"     // list console users
	PermTrace     Permission = "trace"     // upload a leaked file and see ranked suspects
)

// Permissions is the authorization table: separation of duties means an
// investigator cannot approve or read the audit of investigations, an
// auditor cannot search or triage, an approver sees only approvals, and an
// administrator manages users but reads no alerts or histories.
var Permissions = map[Role][]Permission{
	RoleAdmin:        {PermOverview, PermPolicy, PermAudit, PermUsers},
	RoleInvestigator: {PermOverview, PermAlerts, PermTriage, PermActors, PermSubjects, PermTrace, PermPolicy},
	RoleApprover:     {PermOverview, PermApprovals},
	RoleAuditor:      {PermOverview, PermAlerts, PermActors, PermPolicy, PermAudit},
}

// Allowed reports whether role has permission p.
func Allowed(role Role, p Permission) bool {
	for _, q := range Permissions[role] {
		if q == p {
			return true
		}
	}
	return false
}
