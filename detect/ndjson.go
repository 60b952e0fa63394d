package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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

// DecodeEvent decodes one JSON event, access or login.
func DecodeEvent(b []byte) (Event, error) {
	var probe struct {
		Account *string         `json:"account"`
		Actor   json.RawMessage `json:"actor"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Event{}, fmt.Errorf("not a JSON event object: %w", scrub(err))
	}
	switch {
	case probe.Account != nil:
		var l custos.LoginEvent
		if err := json.Unmarshal(b, &l); err != nil {
			return Event{}, fmt.Errorf("login event: %w", scrub(err))
		}
		if l.Time.IsZero() {
			return Event{}, fmt.Errorf("login event: time is required")
		}
		return Event{Login: &l}, nil
	case len(probe.Actor) > 0:
		var a custos.AccessEvent
		if err := json.Unmarshal(b, &a); err != nil {
			return Event{}, fmt.Errorf("access event: %w", scrub(err))
		}
		if a.Time.IsZero() {
			return Event{}, fmt.Errorf("access event: time is required")
		}
		for i := range a.Subjects {
			// The engine works on hashes only; a raw value must not be
			// carried further (into alerts or snapshots).
			a.Subjects[i].Value = ""
		}
		return Event{Access: &a}, nil
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
