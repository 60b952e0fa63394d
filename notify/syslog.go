package notify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

// Syslog sends each alert as an RFC 5424 message whose text is an ArcSight
// Common Event Format (CEF) record, the format SIEMs ingest without a
// custom parser. Network is "udp" or "tcp"; over TCP messages are
// newline-terminated (RFC 6587 non-transparent framing).
type Syslog struct {
	Network, Address string
	// Version is written in the CEF header (the product version).
	Version string

	mu   sync.Mutex
	conn net.Conn
}

func (s *Syslog) Name() string { return "syslog " + s.Network + "://" + s.Address }

func (s *Syslog) Deliver(ctx context.Context, a custos.AlertRecord) error {
	msg := Frame(a, s.Version, time.Now())
	if s.Network == "tcp" {
		msg += "\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// One retry on a fresh connection: a TCP receiver may have dropped an
	// idle connection since the last alert.
	for attempt := 0; ; attempt++ {
		if s.conn == nil {
			var d net.Dialer
			c, err := d.DialContext(ctx, s.Network, s.Address)
			if err != nil {
				return err
			}
			s.conn = c
		}
		s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := s.conn.Write([]byte(msg))
		if err == nil {
			return nil
		}
		s.conn.Close()
		s.conn = nil
		if attempt == 1 {
			return err
		}
	}
}

// Close releases the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// cefSeverity maps alert severities onto CEF's 0–10.
var cefSeverity = map[string]int{"low": 3, "medium": 5, "high": 8, "critical": 10}

// syslogSeverity maps them onto syslog severities (RFC 5424 §6.2.1).
var syslogSeverity = map[string]int{"low": 5, "medium": 4, "high": 3, "critical": 2}

// Frame is the whole syslog message for an alert, with facility authpriv
// (10): security messages that belong on the protected log.
func Frame(a custos.AlertRecord, version string, now time.Time) string {
	sev, ok := syslogSeverity[a.Severity]
	if !ok {
		sev = 4
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "-"
	}
	pri := 10*8 + sev
	return fmt.Sprintf("<%d>1 %s %s custos - alert - %s", pri, now.UTC().Format(time.RFC3339Nano), host, CEF(a, version))
}

// CEF formats an alert as one CEF:0 record.
func CEF(a custos.AlertRecord, version string) string {
	if version == "" {
		version = "1"
	}
	sev, ok := cefSeverity[a.Severity]
	if !ok {
		sev = 5
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|Custos|Custos|%s|%s|%s|%d|", cefHeader(version), cefHeader(a.Rule), cefHeader(a.Summary), sev)
	ext := []string{
		"rt=" + strconv.FormatInt(a.LastSeen.UnixMilli(), 10),
		"start=" + strconv.FormatInt(a.FirstSeen.UnixMilli(), 10),
		"end=" + strconv.FormatInt(a.LastSeen.UnixMilli(), 10),
		"externalId=" + cefValue(a.ID),
		"cs1Label=status cs1=" + cefValue(string(a.Status)),
	}
	if a.Actor != "" {
		ext = append(ext, "suser="+cefValue(a.Actor))
	}
	if a.SourceIP != "" {
		ext = append(ext, "src="+cefValue(a.SourceIP))
	}
	b.WriteString(strings.Join(ext, " "))
	return b.String()
}

// cefHeader escapes a header field: backslash and pipe.
func cefHeader(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// cefValue escapes an extension value: backslash, equals sign, newlines.
func cefValue(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "=", `\=`)
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}
