package notify

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/custos-dev/custos"
)

// Email sends each alert as a plain-text message through an SMTP relay
// (STARTTLS when the relay offers it; PLAIN authentication when a
// username is set, which net/smtp allows only over TLS or to localhost).
type Email struct {
	Addr     string // host:port of the relay
	From     string
	To       []string
	Username string
	Password string
}

func (e *Email) Name() string { return "email via " + e.Addr }

func (e *Email) Deliver(ctx context.Context, a custos.AlertRecord) error {
	return e.send(ctx, Message(a, e.From, e.To, time.Now()))
}

// send hands one message to the relay.
func (e *Email) send(ctx context.Context, msg []byte) error {
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", e.Addr, err)
	}
	var auth smtp.Auth
	if e.Username != "" {
		auth = smtp.PlainAuth("", e.Username, e.Password, host)
	}
	done := make(chan error, 1)
	go func() { done <- smtp.SendMail(e.Addr, auth, e.From, e.To, msg) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Message is the RFC 5322 message for an alert.
func Message(a custos.AlertRecord, from string, to []string, now time.Time) []byte {
	subject := fmt.Sprintf("[Custos] %s %s: %s", strings.ToUpper(a.Severity), a.Rule, a.Summary)
	actor := a.Actor
	if actor == "" {
		actor = "(none: source " + a.SourceIP + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", from, strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "X-Custos-Alert: %s\r\n\r\n", a.ID)
	fmt.Fprintf(&b, "%s\r\n\r\nrule:       %s\r\nseverity:   %s\r\nactor:      %s\r\nstatus:     %s\r\nfirst seen: %s\r\nlast seen:  %s\r\nalert id:   %s\r\n",
		a.Summary, a.Rule, a.Severity, actor, a.Status, a.FirstSeen.Format(time.RFC3339), a.LastSeen.Format(time.RFC3339), a.ID)
	return []byte(b.String())
}
