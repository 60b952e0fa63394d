package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/notify"
	"github.com/custos-dev/custos/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func alert(id, rule, severity, actor string, first time.Time) custos.AlertRecord {
	return custos.AlertRecord{ID: id, Rule: rule, Severity: severity, Actor: actor, FirstSeen: first, LastSeen: first.Add(time.Minute),
		Summary: "agent " + actor + " viewed 3 watched passengers (138****5678)", Doc: json.RawMessage(`{"id":"` + id + `"}`)}
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// recorder is a sink that remembers what it was given and can be made to
// fail.
type recorder struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Deliver(_ context.Context, a custos.AlertRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return io.ErrUnexpectedEOF
	}
	r.got = append(r.got, a.ID+"@"+a.Severity)
	return nil
}

// TestDeliveryAtLeastOnceAndSuppression runs the notifier over a real
// store: new alerts are sent once, a severity change is sent again, a
// failing sink leaves the alert due, low severities and closed alerts are
// not sent, and a false positive suppresses the next alert like it.
func TestDeliveryAtLeastOnceAndSuppression(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	rec := &recorder{}
	n := &notify.Notifier{Source: st, Sinks: []notify.Sink{rec}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.UpsertAlerts(ctx, []custos.AlertRecord{
		alert("a1", "watchlist", "high", "emp-1", t0),
		alert("a2", "offhours", "low", "emp-2", t0),
	}))
	if sent, err := n.Once(ctx); err != nil || sent != 1 {
		t.Fatalf("first pass: sent %d, %v", sent, err)
	}
	if sent, _ := n.Once(ctx); sent != 0 {
		t.Fatalf("second pass sent %d again", sent)
	}
	// The same incident escalates: delivered again.
	must(st.UpsertAlerts(ctx, []custos.AlertRecord{alert("a1", "watchlist", "critical", "emp-1", t0)}))
	rec.fail = true
	if _, err := n.Once(ctx); err == nil {
		t.Fatal("a failing sink did not fail the pass")
	}
	rec.fail = false
	if sent, err := n.Once(ctx); err != nil || sent != 1 {
		t.Fatalf("after the sink recovered: sent %d, %v", sent, err)
	}
	if got := strings.Join(rec.got, " "); got != "a1@high a1@critical" {
		t.Errorf("delivered %q", got)
	}

	// An analyst calls a1 a false positive: the next alert of the same
	// rule about the same actor is suppressed and not delivered; another
	// actor's is.
	must(st.SetAlertStatus(ctx, "a1", custos.AlertFalsePositive))
	must(st.UpsertAlerts(ctx, []custos.AlertRecord{
		alert("a3", "watchlist", "high", "emp-1", t0.Add(24*time.Hour)),
		alert("a4", "watchlist", "high", "emp-9", t0.Add(24*time.Hour)),
	}))
	got, err := st.Alerts(ctx, custos.AlertQuery{Status: custos.AlertSuppressed})
	if err != nil || len(got) != 1 || got[0].ID != "a3" {
		t.Fatalf("suppressed alerts: %+v %v", got, err)
	}
	rec.got = nil
	if sent, err := n.Once(ctx); err != nil || sent != 1 || rec.got[0] != "a4@high" {
		t.Fatalf("after suppression: sent %d %v %v", sent, rec.got, err)
	}
	// Long after the false positive, the same pattern alerts again.
	must(st.UpsertAlerts(ctx, []custos.AlertRecord{alert("a5", "watchlist", "high", "emp-1", t0.Add(60*24*time.Hour))}))
	if got, _ := st.Alerts(ctx, custos.AlertQuery{Actor: "emp-1", Status: custos.AlertOpen}); len(got) != 1 || got[0].ID != "a5" {
		t.Errorf("alert after the suppression window: %+v", got)
	}
}

func TestWebhookSignsAndSendsJSON(t *testing.T) {
	secret := []byte("webhook-secret-0123456789")
	var body []byte
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		sig = r.Header.Get("X-Custos-Signature")
	}))
	defer srv.Close()
	wh := &notify.Webhook{URL: srv.URL, Secret: secret}
	a := alert("a1", "honeytoken", "critical", "emp-1", t0)
	if err := wh.Deliver(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if sig != notify.Sign(secret, body) {
		t.Errorf("signature %q does not match the body", sig)
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID != "a1" || p.Actor == nil || *p.Actor != "emp-1" || string(p.Alert) != `{"id":"a1"}` {
		t.Errorf("payload %s (%v)", body, err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	if err := (&notify.Webhook{URL: down.URL}).Deliver(context.Background(), a); err == nil {
		t.Error("a 503 answer counted as delivered")
	}
}

func TestSyslogCEFOverUDPAndTCP(t *testing.T) {
	a := alert("a|1", "bulk=access", "high", `emp\7`, t0)
	a.SourceIP = "10.1.2.3"
	a.Status = custos.AlertOpen

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	udp := &notify.Syslog{Network: "udp", Address: pc.LocalAddr().String(), Version: "test"}
	defer udp.Close()
	if err := udp.Deliver(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	for _, want := range []string{"<83>1 ", " custos - alert - CEF:0|Custos|Custos|test|bulk=access|", "|8|", `suser=emp\\7`, "src=10.1.2.3", `externalId=a|1`, "cs1=open"} {
		if !strings.Contains(msg, want) {
			t.Errorf("UDP message lacks %q:\n%s", want, msg)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					lines <- sc.Text()
				}
				c.Close()
			}()
		}
	}()
	tcp := &notify.Syslog{Network: "tcp", Address: ln.Addr().String()}
	defer tcp.Close()
	for range 2 {
		if err := tcp.Deliver(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case l := <-lines:
			if !strings.Contains(l, "CEF:0|Custos|") {
				t.Errorf("TCP line %q", l)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("TCP receiver got nothing")
		}
	}
}

// TestEmailThroughSMTP speaks to a minimal SMTP server on loopback.
// fakeSMTP is a relay on a local port that hands each message's data to
// the channel it returns.
func fakeSMTP(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	data := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serveSMTP(c, data)
		}
	}()
	return ln.Addr().String(), data
}

func serveSMTP(c net.Conn, data chan<- string) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { io.WriteString(c, s+"\r\n") }
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			data <- b.String()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func TestEmailThroughSMTP(t *testing.T) {
	addr, data := fakeSMTP(t)
	e := &notify.Email{Addr: addr, From: "custos@example.org", To: []string{"soc@example.org"}}
	if err := e.Deliver(context.Background(), alert("a1", "stuffing", "critical", "emp-1", t0)); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-data:
		for _, want := range []string{"To: soc@example.org", "Subject: [Custos] CRITICAL stuffing", "X-Custos-Alert: a1", "138****5678"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}
