package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"time"

	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/mask"
)

// ApprovalNotice is what approvers are told of a pending request: enough
// to decide whether to open it, nothing of the people it concerns (the
// subjects are counted, never listed; identifiers typed into the reason
// are masked).
type ApprovalNotice struct {
	Type      string `json:"type"` // "approval.requested"
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Requester string `json:"requester"`
	Reason    string `json:"reason"`
	Purpose   string `json:"purpose,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
	System    string `json:"system,omitempty"`
	Object    string `json:"object,omitempty"`
	// Categories and Subjects (a count) say what the grant would cover.
	Categories []string      `json:"categories,omitempty"`
	Subjects   int           `json:"subjects,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	Created    time.Time     `json:"created"`
	// Rule, ApproverRoles and Approvers say who may approve, Required how
	// many of them must.
	Rule          string   `json:"rule"`
	ApproverRoles []string `json:"approver_roles,omitempty"`
	Approvers     []string `json:"approvers,omitempty"`
	Required      int      `json:"required"`
	// URL is the console's approvals page, where the request is decided,
	// when the console's address is configured.
	URL string `json:"url,omitempty"`
}

// NewApprovalNotice builds the notice of a pending request governed by
// rule; console is the console's base URL ("" leaves URL empty).
func NewApprovalNotice(r approval.Request, rule approval.Rule, console string) ApprovalNotice {
	n := ApprovalNotice{Type: string(approval.EventRequested), ID: r.ID, Kind: string(r.Kind), Requester: r.Requester,
		Reason: mask.Text(r.Reason), Purpose: r.Purpose.Name, Ticket: r.Purpose.Ticket,
		System: r.Scope.System, Object: r.Scope.Object, Categories: r.Scope.Categories, Subjects: len(r.Scope.Subjects),
		Duration: r.Duration, Created: r.Created, Rule: r.Rule, ApproverRoles: rule.ApproverRoles, Approvers: rule.Approvers,
		Required: r.Required}
	if console != "" {
		n.URL = strings.TrimSuffix(console, "/") + "/approvals"
	}
	return n
}

// ApprovalSender tells approvers of a request.
type ApprovalSender interface {
	Name() string
	SendApproval(ctx context.Context, n ApprovalNotice) error
}

// SendApproval POSTs the notice as JSON, signed as alerts are.
func (w *Webhook) SendApproval(ctx context.Context, n ApprovalNotice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return w.post(ctx, body)
}

// SendApproval mails the notice.
func (e *Email) SendApproval(ctx context.Context, n ApprovalNotice) error {
	return e.send(ctx, ApprovalMessage(n, e.From, e.To, time.Now()))
}

// ApprovalMessage is the RFC 5322 message of an approval notice.
func ApprovalMessage(n ApprovalNotice, from string, to []string, now time.Time) []byte {
	what := n.System
	if n.Object != "" {
		what += "/" + n.Object
	}
	if what == "" {
		what = "all systems"
	}
	subject := fmt.Sprintf("[Custos] approval requested: %s by %s on %s", n.Kind, n.Requester, what)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", from, strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "X-Custos-Approval: %s\r\n\r\n", n.ID)
	fmt.Fprintf(&b, "%s asks for %s on %s.\r\n\r\nreason:     %s\r\n", n.Requester, n.Kind, what, n.Reason)
	if n.Purpose != "" || n.Ticket != "" {
		fmt.Fprintf(&b, "purpose:    %s %s\r\n", n.Purpose, n.Ticket)
	}
	if len(n.Categories) > 0 {
		fmt.Fprintf(&b, "categories: %s\r\n", strings.Join(n.Categories, ", "))
	}
	if n.Subjects > 0 {
		fmt.Fprintf(&b, "people:     %d named\r\n", n.Subjects)
	}
	fmt.Fprintf(&b, "for:        %s\r\nrule:       %s (%d approval(s) from roles %s, people %s)\r\nrequest id: %s\r\n",
		n.Duration, n.Rule, n.Required, strings.Join(n.ApproverRoles, ", "), strings.Join(n.Approvers, ", "), n.ID)
	if n.URL != "" {
		fmt.Fprintf(&b, "\r\n%s\r\n", n.URL)
	}
	return []byte(b.String())
}

// ApprovalSource is the part of the approval service the notifier uses.
type ApprovalSource interface {
	Unnotified(ctx context.Context) ([]approval.Request, []approval.Rule)
	MarkNotified(ctx context.Context, id string) error
}

// ApprovalNotifier tells approvers of each new pending request, at least
// once: a request is marked notified (durably, in the request) only after
// every sink took it, so a failed delivery or a restart sends it again.
type ApprovalNotifier struct {
	Source     ApprovalSource
	Sinks      []ApprovalSender
	ConsoleURL string
	Log        *slog.Logger
	// Poll is how often pending requests are looked at (default 2s); Retry
	// how long to wait after a failed delivery (default 10s).
	Poll, Retry time.Duration
}

// Run delivers until ctx ends.
func (n *ApprovalNotifier) Run(ctx context.Context) {
	deliverLoop(ctx, n.Poll, n.Retry, n.Log, "approval notification", n.Once)
}

// Once notifies every request waiting for it and returns how many were
// sent. It stops at the first request a sink refuses.
func (n *ApprovalNotifier) Once(ctx context.Context) (int, error) {
	reqs, rules := n.Source.Unnotified(ctx)
	for i, r := range reqs {
		notice := NewApprovalNotice(r, rules[i], n.ConsoleURL)
		for _, s := range n.Sinks {
			if err := s.SendApproval(ctx, notice); err != nil {
				return i, fmt.Errorf("notify: approval %s to %s: %w", r.ID, s.Name(), err)
			}
		}
		if err := n.Source.MarkNotified(ctx, r.ID); err != nil {
			return i, fmt.Errorf("notify: approval %s: %w", r.ID, err)
		}
		n.Log.Info("approvers notified", "request", r.ID, "rule", r.Rule)
	}
	return len(reqs), nil
}
