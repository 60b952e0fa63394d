package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/custos-dev/custos"
)

// Webhook POSTs each alert as JSON. With a secret, the body is signed:
// X-Custos-Signature: sha256=<hex HMAC-SHA256 of the body>, so the
// receiver can tell the alert came from Custos and was not altered.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client // default: 10 s timeout
}

func (w *Webhook) Name() string { return "webhook " + w.URL }

// Payload is what a webhook receives: the alert's workflow fields and the
// detector's whole alert document.
type Payload struct {
	ID        string          `json:"id"`
	Rule      string          `json:"rule"`
	Severity  string          `json:"severity"`
	Actor     *string         `json:"actor"`
	SourceIP  string          `json:"source_ip,omitempty"`
	FirstSeen time.Time       `json:"first_seen"`
	LastSeen  time.Time       `json:"last_seen"`
	Status    string          `json:"status"`
	Summary   string          `json:"summary"`
	Alert     json.RawMessage `json:"alert,omitempty"`
}

// NewPayload builds the webhook body of an alert.
func NewPayload(a custos.AlertRecord) Payload {
	p := Payload{ID: a.ID, Rule: a.Rule, Severity: a.Severity, SourceIP: a.SourceIP, FirstSeen: a.FirstSeen,
		LastSeen: a.LastSeen, Status: string(a.Status), Summary: a.Summary, Alert: a.Doc}
	if a.Actor != "" {
		p.Actor = &a.Actor
	}
	if len(p.Alert) == 0 || !json.Valid(p.Alert) {
		p.Alert = nil
	}
	return p
}

// Sign returns the signature header value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *Webhook) Deliver(ctx context.Context, a custos.AlertRecord) error {
	body, err := json.Marshal(NewPayload(a))
	if err != nil {
		return err
	}
	return w.post(ctx, body)
}

// post sends one JSON body, signed when there is a secret.
func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "custos-notify/1")
	if len(w.Secret) > 0 {
		req.Header.Set("X-Custos-Signature", Sign(w.Secret, body))
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
