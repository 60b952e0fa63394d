package config

import (
	"fmt"
	"net"
	"net/url"
)

// Alerts configures where detection's alerts are delivered besides
// GET /api/v1/alerts (docs/detection.md). Every sink is optional.
type Alerts struct {
	MinSeverity string    `yaml:"min_severity"` // low | medium | high | critical
	Webhooks    []Webhook `yaml:"webhooks"`
	Syslog      Syslog    `yaml:"syslog"`
	Email       Email     `yaml:"email"`
	// SuspendRules are detection rules whose alerts suspend the actor at
	// once (every gateway then denies them until an investigator lifts
	// it), e.g. [honeytoken]. Empty: only investigators suspend.
	SuspendRules []string `yaml:"suspend_rules"`
	// ApprovalRules are detection rules whose alerts put the actor under
	// review for 24 hours: what policy would allow them needs an
	// approver's grant (e.g. [bulk_absolute, enumeration]).
	ApprovalRules []string `yaml:"approval_rules"`
}

// Webhook is a URL that receives each alert as signed JSON.
type Webhook struct {
	URL        string `yaml:"url"`
	SecretFile string `yaml:"secret_file"` // HMAC key for X-Custos-Signature; empty: unsigned
}

// Syslog sends CEF records over syslog.
type Syslog struct {
	Network string `yaml:"network"` // udp | tcp
	Address string `yaml:"address"` // host:port; empty: off
}

// Email sends alerts through an SMTP relay.
type Email struct {
	SMTP         string   `yaml:"smtp"` // host:port; empty: off
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
}

// Enabled reports whether any sink is configured.
func (a Alerts) Enabled() bool {
	return len(a.Webhooks) > 0 || a.Syslog.Address != "" || a.Email.SMTP != ""
}

func (a Alerts) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("alerts.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch a.MinSeverity {
	case "low", "medium", "high", "critical":
	default:
		bad("min_severity", "must be low, medium, high or critical, not %q", a.MinSeverity)
	}
	errs = append(errs, validateWebhooks("alerts", a.Webhooks)...)
	if a.Syslog.Address != "" {
		if a.Syslog.Network != "udp" && a.Syslog.Network != "tcp" {
			bad("syslog.network", "must be udp or tcp, not %q", a.Syslog.Network)
		}
		if _, _, err := net.SplitHostPort(a.Syslog.Address); err != nil {
			bad("syslog.address", "must be host:port")
		}
	}
	errs = append(errs, a.Email.validate("alerts")...)
	return errs
}

// validateWebhooks checks webhook URLs under section (alerts, approvals.notify).
func validateWebhooks(section string, hooks []Webhook) []error {
	var errs []error
	for i, w := range hooks {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s.webhooks[%d].url: must be an http or https URL", section, i))
		}
	}
	return errs
}

// validate checks an e-mail sink under section; an empty smtp is off.
func (e Email) validate(section string) []error {
	if e.SMTP == "" {
		return nil
	}
	var errs []error
	if _, _, err := net.SplitHostPort(e.SMTP); err != nil {
		errs = append(errs, fmt.Errorf("%s.email.smtp: must be host:port", section))
	}
	if e.From == "" || len(e.To) == 0 {
		errs = append(errs, fmt.Errorf("%s.email: from and to are required", section))
	}
	return errs
}
