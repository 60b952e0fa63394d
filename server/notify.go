package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/notify"
)

// startNotifier delivers alerts to the configured webhooks, syslog and
// e-mail, when detection runs and any sink is configured.
func (s *Server) startNotifier(ctx context.Context) error {
	if s.detection == nil {
		return nil
	}
	n, err := NewNotifier(s.cfg.Alerts, s.Store, s.log)
	if n == nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		n.Run(ctx)
	}()
	return nil
}

// startApprovalNotifier tells approvers of new requests, when approvals
// and approvals.notify are configured.
func (s *Server) startApprovalNotifier(ctx context.Context) error {
	if s.Approvals == nil {
		return nil
	}
	n, err := NewApprovalNotifier(s.cfg.Approvals.Notify, s.Approvals, s.log)
	if n == nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		n.Run(ctx)
	}()
	return nil
}

// NewNotifier builds the alert notifier of cfg over src: nil when no sink
// is configured.
func NewNotifier(cfg config.Alerts, src notify.Source, log *slog.Logger) (*notify.Notifier, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	both, err := webAndMail(cfg.Webhooks, cfg.Email)
	if err != nil {
		return nil, err
	}
	var sinks []notify.Sink
	for _, x := range both {
		sinks = append(sinks, x)
	}
	if cfg.Syslog.Address != "" {
		sinks = append(sinks, &notify.Syslog{Network: cfg.Syslog.Network, Address: cfg.Syslog.Address})
	}
	return &notify.Notifier{Source: src, Sinks: sinks, MinSeverity: cfg.MinSeverity, Log: log}, nil
}

// NewApprovalNotifier builds the notifier that tells approvers of new
// requests of svc: nil when approvals.notify configures no sink.
func NewApprovalNotifier(cfg config.ApprovalNotify, svc notify.ApprovalSource, log *slog.Logger) (*notify.ApprovalNotifier, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	both, err := webAndMail(cfg.Webhooks, cfg.Email)
	if err != nil {
		return nil, err
	}
	var sinks []notify.ApprovalSender
	for _, x := range both {
		sinks = append(sinks, x)
	}
	return &notify.ApprovalNotifier{Source: svc, Sinks: sinks, ConsoleURL: cfg.ConsoleURL, Log: log}, nil
}

// webOrMail is a webhook or e-mail sink: both deliver alerts and tell
// approvers.
type webOrMail interface {
	notify.Sink
	notify.ApprovalSender
}

// webAndMail builds the webhook and e-mail sinks of a section, reading
// their secret files.
func webAndMail(ws []config.Webhook, ec config.Email) ([]webOrMail, error) {
	var out []webOrMail
	for _, w := range ws {
		wh := &notify.Webhook{URL: w.URL}
		if w.SecretFile != "" {
			secret, err := readSecret(w.SecretFile)
			if err != nil {
				return nil, err
			}
			wh.Secret = []byte(secret)
		}
		out = append(out, wh)
	}
	if ec.SMTP != "" {
		email := &notify.Email{Addr: ec.SMTP, From: ec.From, To: ec.To, Username: ec.Username}
		if ec.PasswordFile != "" {
			pw, err := readSecret(ec.PasswordFile)
			if err != nil {
				return nil, err
			}
			email.Password = pw
		}
		out = append(out, email)
	}
	return out, nil
}

// readSecret reads a secret file, refusing one that others may read.
func readSecret(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("server: secret: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("server: secret %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("server: secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
