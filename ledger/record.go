package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// RecordVersion is the version of the entry encoding written by this build.
const RecordVersion = 1

// Kinds of records the ledger carries: the three event streams of the
// store. Audit records are approval steps, policy changes, watchlist
// changes and console actions.
const (
	KindAccess = "access"
	KindLogin  = "login"
	KindAudit  = "audit"
)

// Record is one ledger entry before encoding: the kind of event, its ID,
// the event store's sequence number for that kind (0 when the event did
// not come from the store) and the event's canonical JSON.
type Record struct {
	Kind  string
	ID    string
	Seq   int64
	Event json.RawMessage
}

// wireRecord fixes the field order of the canonical encoding: v, kind,
// seq, id, event. encoding/json writes struct fields in declaration order
// and map keys sorted, so the same event always encodes to the same bytes.
type wireRecord struct {
	V     int             `json:"v"`
	Kind  string          `json:"kind"`
	Seq   int64           `json:"seq"`
	ID    string          `json:"id"`
	Event json.RawMessage `json:"event"`
}

// Encode returns the canonical bytes of r, which are the leaf data in the
// log.
func (r Record) Encode() ([]byte, error) {
	if r.Kind == "" || r.ID == "" {
		return nil, errors.New("ledger: record needs a kind and an id")
	}
	if !json.Valid(r.Event) {
		return nil, fmt.Errorf("ledger: record %s: event is not valid JSON", r.ID)
	}
	var buf bytes.Buffer
	buf.Grow(len(r.Event) + len(r.ID) + 64)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wireRecord{V: RecordVersion, Kind: r.Kind, Seq: r.Seq, ID: r.ID, Event: r.Event}); err != nil {
		return nil, fmt.Errorf("ledger: encode record %s: %w", r.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeRecord parses an entry and checks that it is in canonical form:
// re-encoding the result gives the same bytes.
func DecodeRecord(data []byte) (Record, error) {
	var w wireRecord
	if err := json.Unmarshal(data, &w); err != nil {
		return Record{}, fmt.Errorf("ledger: decode record: %w", err)
	}
	if w.V != RecordVersion {
		return Record{}, fmt.Errorf("ledger: decode record: version %d, want %d", w.V, RecordVersion)
	}
	r := Record{Kind: w.Kind, ID: w.ID, Seq: w.Seq, Event: w.Event}
	again, err := r.Encode()
	if err != nil {
		return Record{}, err
	}
	if !bytes.Equal(again, data) {
		return Record{}, errors.New("ledger: decode record: not in canonical form")
	}
	return r, nil
}

// recordHead is what Verify needs from each of millions of entries
// without decoding the event.
type recordHead struct {
	Kind string
	ID   string
	Seq  int64
}

var (
	headPrefix = []byte(`{"v":1,"kind":`)
	headSeq    = []byte(`,"seq":`)
	headID     = []byte(`,"id":`)
	headEvent  = []byte(`,"event":`)
)

// parseHead reads kind, seq and id from the fixed prefix of a canonical
// record. It accepts only what Encode writes.
func parseHead(data []byte) (recordHead, error) {
	var h recordHead
	rest, ok := bytes.CutPrefix(data, headPrefix)
	if !ok {
		return h, errors.New("ledger: entry does not start with a version 1 record header")
	}
	var err error
	if h.Kind, rest, err = cutString(rest); err != nil {
		return h, fmt.Errorf("ledger: entry kind: %w", err)
	}
	if rest, ok = bytes.CutPrefix(rest, headSeq); !ok {
		return h, errors.New("ledger: entry has no seq")
	}
	n := 0
	for n < len(rest) && (rest[n] == '-' || rest[n] >= '0' && rest[n] <= '9') {
		n++
	}
	if h.Seq, err = strconv.ParseInt(string(rest[:n]), 10, 64); err != nil {
		return h, fmt.Errorf("ledger: entry seq: %w", err)
	}
	if rest, ok = bytes.CutPrefix(rest[n:], headID); !ok {
		return h, errors.New("ledger: entry has no id")
	}
	if h.ID, rest, err = cutString(rest); err != nil {
		return h, fmt.Errorf("ledger: entry id: %w", err)
	}
	if !bytes.HasPrefix(rest, headEvent) || !bytes.HasSuffix(rest, []byte("}")) {
		return h, errors.New("ledger: entry has no event")
	}
	return h, nil
}

// cutString reads one JSON string token from the start of b.
func cutString(b []byte) (string, []byte, error) {
	if len(b) == 0 || b[0] != '"' {
		return "", b, errors.New("not a string")
	}
	escaped := false
	for i := 1; i < len(b); i++ {
		switch {
		case escaped:
			escaped = false
		case b[i] == '\\':
			escaped = true
		case b[i] == '"':
			if !escaped && !bytes.ContainsRune(b[1:i], '\\') {
				return string(b[1:i]), b[i+1:], nil
			}
			var s string
			if err := json.Unmarshal(b[:i+1], &s); err != nil {
				return "", b, err
			}
			return s, b[i+1:], nil
		}
	}
	return "", b, errors.New("unterminated string")
}
