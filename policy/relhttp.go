package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/custos-dev/custos"
)

// RelationshipEvent is one business event posted to
// POST /api/v1/relationships: an actor gained (or, with remove, lost) a
// relationship of a kind with a data subject. The subject is given by type
// and value, which the handler hashes with the blind index at once and
// never keeps, or by type and hash.
type RelationshipEvent struct {
	Actor   string         `json:"actor"`
	Subject custos.Subject `json:"subject"`
	Kind    string         `json:"kind"`
	Expires time.Time      `json:"expires,omitzero"`
	Remove  bool           `json:"remove,omitempty"`
}

// RelationshipLog persists accepted relationship events (the lead's store);
// the handler answers only after Append succeeds, so that a restart can
// reload them. Events carry hashes only.
type RelationshipLog interface {
	AppendRelationships(ctx context.Context, added, removed []Relationship) error
}

// RelationshipHandler serves POST /api/v1/relationships: a JSON array of
// RelationshipEvent or NDJSON (one a line). A batch is all or nothing: any
// invalid event rejects the whole batch with 400 and a list of
// {index, field, reason} that never quotes a subject's value.
type RelationshipHandler struct {
	Store *Relationships
	// Hash is the blind index: hex HMAC of the type and normalized value.
	Hash func(typ, value string) (string, error)
	// Log persists accepted events; nil keeps them in memory only.
	Log      RelationshipLog
	Logger   *slog.Logger
	MaxBatch int   // default 10,000
	MaxBody  int64 // default 8 MiB
}

type relResponse struct {
	Added   int                 `json:"added"`
	Removed int                 `json:"removed"`
	Errors  []custos.FieldError `json:"errors,omitempty"`
	Error   string              `json:"error,omitempty"`
}

func (h *RelationshipHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, relResponse{Error: "POST a JSON array or NDJSON of relationship events"})
		return
	}
	maxBody, maxBatch := h.MaxBody, h.MaxBatch
	if maxBody <= 0 {
		maxBody = 8 << 20
	}
	if maxBatch <= 0 {
		maxBatch = 10000
	}
	events, ferrs, err := decodeBatch[RelationshipEvent](http.MaxBytesReader(w, r.Body, maxBody), maxBatch)
	if err != nil {
		code := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, code, relResponse{Error: err.Error(), Errors: ferrs})
		return
	}
	var added, removed []Relationship
	for i, ev := range events {
		rel, fe := h.relationship(i, ev)
		if fe != nil {
			ferrs = append(ferrs, *fe)
			continue
		}
		if ev.Remove {
			removed = append(removed, rel)
		} else {
			added = append(added, rel)
		}
	}
	if len(ferrs) > 0 {
		writeJSON(w, http.StatusBadRequest, relResponse{Error: "invalid relationship events; none were applied", Errors: ferrs})
		return
	}
	if h.Log != nil {
		if err := h.Log.AppendRelationships(r.Context(), added, removed); err != nil {
			h.logger().Error("relationships: persist failed", "err", err, "added", len(added), "removed", len(removed))
			writeJSON(w, http.StatusServiceUnavailable, relResponse{Error: "relationships could not be stored; retry"})
			return
		}
	}
	h.Store.Add(added...)
	for _, rel := range removed {
		h.Store.Remove(rel.Actor, rel.Subject, rel.Kind)
	}
	writeJSON(w, http.StatusOK, relResponse{Added: len(added), Removed: len(removed)})
}

func (h *RelationshipHandler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *RelationshipHandler) relationship(i int, ev RelationshipEvent) (Relationship, *custos.FieldError) {
	fail := func(field, reason string) (Relationship, *custos.FieldError) {
		return Relationship{}, &custos.FieldError{Index: i, Field: field, Reason: reason}
	}
	switch {
	case ev.Actor == "":
		return fail("actor", "required")
	case ev.Kind == "":
		return fail("kind", "required (booking, ticket, application …)")
	case len(ev.Actor) > 128 || len(ev.Kind) > 64:
		return fail("actor", "actor longer than 128 or kind longer than 64 bytes")
	}
	hash, fe := subjectHash(i, ev.Subject, h.Hash)
	if fe != nil {
		return Relationship{}, fe
	}
	return Relationship{Actor: ev.Actor, Subject: hash, Kind: ev.Kind, Expires: ev.Expires}, nil
}

// decodeBatch reads a JSON array or NDJSON of T strictly (unknown fields
// are errors, so a misspelt field cannot silently drop data).
func decodeBatch[T any](r io.Reader, max int) ([]T, []custos.FieldError, error) {
	br := bufio.NewReader(r)
	var first byte
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return nil, nil, errors.New("empty batch")
		}
		if err != nil {
			return nil, nil, err
		}
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' {
			first = b
			br.UnreadByte()
			break
		}
	}
	var out []T
	if first == '[' {
		dec := json.NewDecoder(br)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			return nil, nil, fmt.Errorf("decode: %s", jsonReason(err))
		}
		if len(out) > max {
			return nil, nil, fmt.Errorf("batch of %d events; at most %d", len(out), max)
		}
		return out, nil, nil
	}
	var ferrs []custos.FieldError
	i := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if i >= max {
				return nil, nil, fmt.Errorf("batch of more than %d events", max)
			}
			var v T
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if derr := dec.Decode(&v); derr != nil {
				ferrs = append(ferrs, custos.FieldError{Index: i, Reason: "not a valid event: " + jsonReason(derr)})
			}
			out = append(out, v)
			i++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if len(ferrs) > 0 {
		return nil, ferrs, errors.New("invalid NDJSON lines; none were applied")
	}
	return out, nil, nil
}

// jsonReason describes a decoding error without quoting input text (which
// could be a subject's value).
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: want %s", te.Field, te.Type)
	}
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
