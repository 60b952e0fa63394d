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

// NewNotifier builds the alert notifier of cfg over src: nil when no sink
// is configured.
func NewNotifier(cfg config.Alerts, src notify.Source, log *slog.Logger) (*notify.Notifier, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	var sinks []notify.Sink
	for _, w := range cfg.Webhooks {
		wh := &notify.Webhook{URL: w.URL}
		if w.SecretFile != "" {
			secret, err := readSecret(w.SecretFile)
			if err != nil {
				return nil, err
			}
			wh.Secret = []byte(secret)
		}
		sinks = append(sinks, wh)
	}
	if cfg.Syslog.Address != "" {
		sinks = append(sinks, &notify.Syslog{Network: cfg.Syslog.Network, Address: cfg.Syslog.Address})
	}
	if cfg.Email.SMTP != "" {
		e := &notify.Email{Addr: cfg.Email.SMTP, From: cfg.Email.From, To: cfg.Email.To, Username: cfg.Email.Username}
		if cfg.Email.PasswordFile != "" {
			pw, err := readSecret(cfg.Email.PasswordFile)
			if err != nil {
				return nil, err
			}
			e.Password = pw
		}
		sinks = append(sinks, e)
	}
	return &notify.Notifier{Source: src, Sinks: sinks, MinSeverity: cfg.MinSeverity, Log: log}, nil
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
