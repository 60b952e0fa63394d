package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/custos-dev/custos"
)

// MaxLine bounds one NDJSON line.
const MaxLine = 4 << 20

// ReadNDJSON reads newline-delimited JSON events — access events and
// login events mixed, told apart by the login's "account" field — and
// calls fn with each in file order. Blank lines are skipped; a line that
// does not decode is an error naming its line number (never its content).
func ReadNDJSON(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ev, err := DecodeEvent(b)
		if err != nil {
			return fmt.Errorf("detect: line %d: %w", line, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("detect: after line %d: %w", line, err)
	}
	return nil
}

// wireEvent has the fields of both event kinds, so a line decodes once.
type wireEvent struct {
	ID         string           `json:"id"`
	Time       time.Time        `json:"time"`
	Actor      *custos.Actor    `json:"actor"`
	Source     custos.Source    `json:"source"`
	Channel    custos.Channel   `json:"channel"`
	Action     custos.Action    `json:"action"`
	Resource   custos.Resource  `json:"resource"`
	Purpose    custos.Purpose   `json:"purpose"`
	Subjects   []custos.Subject `json:"subjects"`
	DataTypes  []string         `json:"data_types"`
	Categories []string         `json:"categories"`
	Records    int64            `json:"records"`
	Bytes      int64            `json:"bytes"`
	Decision   custos.Decision  `json:"decision"`
	Rules      []string         `json:"rules"`
	Outcome    custos.Outcome   `json:"outcome"`
	Account    *string          `json:"account"`
	System     string           `json:"system"`
	Method     string           `json:"method"`
	Reason     string           `json:"reason"`
	Credential string           `json:"credential_fingerprint"`
}

// DecodeEvent decodes one JSON event, access or login.
func DecodeEvent(b []byte) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("not a JSON event object: %w", scrub(err))
	}
	switch {
	case w.Account != nil:
		if w.Time.IsZero() {
			return Event{}, fmt.Errorf("login event: time is required")
		}
		return Event{Login: &custos.LoginEvent{ID: w.ID, Time: w.Time, Account: *w.Account, Source: w.Source, System: w.System,
			Method: w.Method, Outcome: w.Outcome, Reason: w.Reason, CredentialFingerprint: w.Credential}}, nil
	case w.Actor != nil:
		if w.Time.IsZero() {
			return Event{}, fmt.Errorf("access event: time is required")
		}
		for i := range w.Subjects {
			// The engine works on hashes only; a raw value must not be
			// carried further (into alerts or snapshots).
			w.Subjects[i].Value = ""
		}
		return Event{Access: &custos.AccessEvent{ID: w.ID, Time: w.Time, Actor: *w.Actor, Source: w.Source, Channel: w.Channel,
			Action: w.Action, Resource: w.Resource, Purpose: w.Purpose, Subjects: w.Subjects, DataTypes: w.DataTypes,
			Categories: w.Categories, Records: w.Records, Bytes: w.Bytes, Decision: w.Decision, Rules: w.Rules, Outcome: w.Outcome}}, nil
	}
	return Event{}, fmt.Errorf("neither an access event (actor) nor a login event (account)")
}

// scrub drops the offending text that some JSON errors quote, which
// could be a subject's value.
func scrub(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errorAs(err, &se):
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	case errorAs(err, &te):
		return fmt.Errorf("field %s: wrong type %s", te.Field, te.Value)
	}
	return fmt.Errorf("malformed JSON")
}

func errorAs[T error](err error, target *T) bool {
	return errors.As(err, target)
}
