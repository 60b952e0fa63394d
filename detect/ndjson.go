package detect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/custos-dev/custos"
)

// MaxLine bounds one NDJSON line.
const MaxLine = 4 << 20

// linesPerChunk is how many lines a decoding worker takes at a time:
// enough to make handing chunks between goroutines cheap.
const linesPerChunk = 512

// chunk is a run of consecutive lines and, once decoded, their events.
type chunk struct {
	first  int      // line number of lines[0]
	lines  [][]byte // non-blank lines (copies)
	nums   []int    // their line numbers
	events []Event
	err    error
	done   chan struct{}
}

// ReadNDJSON reads newline-delimited JSON events — access events and
// login events mixed, told apart by the login's "account" field — and
// calls fn with each in file order. Blank lines are skipped; a line that
// does not decode is an error naming its line number (never its content).
//
// Decoding is the expensive part of a replay, so lines are decoded by one
// worker per CPU while fn still sees every event in file order, on one
// goroutine.
func ReadNDJSON(r io.Reader, fn func(Event) error) error {
	workers := max(runtime.GOMAXPROCS(0), 1)
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	var readErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.decode()
				close(c.done)
			}
		}()
	}
	go func() {
		defer close(ordered)
		defer close(work)
		readErr = split(r, func(c *chunk) bool {
			select {
			case ordered <- c:
			case <-stop:
				return false
			}
			work <- c
			return true
		})
	}()
	var err error
	for c := range ordered {
		<-c.done
		if err == nil && c.err != nil {
			err = c.err
		}
		for i := 0; err == nil && i < len(c.events); i++ {
			err = fn(c.events[i])
		}
		if err != nil {
			break
		}
	}
	close(stop)
	for c := range ordered { // let the reader finish
		<-c.done
	}
	wg.Wait()
	if err != nil {
		return err
	}
	return readErr
}

// split cuts r into chunks of non-blank lines and hands each to emit,
// stopping early when emit returns false.
func split(r io.Reader, emit func(*chunk) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	line := 0
	c := &chunk{done: make(chan struct{})}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		c.lines = append(c.lines, bytes.Clone(b))
		c.nums = append(c.nums, line)
		if len(c.lines) == linesPerChunk {
			if !emit(c) {
				return nil
			}
			c = &chunk{done: make(chan struct{})}
		}
	}
	if len(c.lines) > 0 && !emit(c) {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("detect: after line %d: %w", line, err)
	}
	return nil
}

func (c *chunk) decode() {
	c.events = make([]Event, 0, len(c.lines))
	for i, b := range c.lines {
		ev, err := DecodeEvent(b)
		if err != nil {
			c.err = fmt.Errorf("detect: line %d: %w", c.nums[i], err)
			return
		}
		c.events = append(c.events, ev)
	}
	c.lines = nil
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
	if err := jsonv2.Unmarshal(b, &w, decodeOptions); err != nil {
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

// decodeOptions keep encoding/json's matching of member names (case
// insensitive) with the faster v2 decoder.
var decodeOptions = jsonv2.MatchCaseInsensitiveNames(true)

// scrub drops the offending text that some JSON errors quote, which
// could be a subject's value.
func scrub(err error) error {
	var se *jsontext.SyntacticError
	var te *jsonv2.SemanticError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("syntax error at byte %d", se.ByteOffset)
	case errors.As(err, &te):
		return fmt.Errorf("field %s: wrong type (JSON %s)", te.JSONPointer, te.JSONKind)
	}
	return fmt.Errorf("malformed JSON")
}
