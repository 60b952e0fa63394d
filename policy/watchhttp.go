package policy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/custos-dev/custos"
)

// WatchEvent lists (or, with remove, unlists) one subject, given by type
// and value (hashed at once, never kept) or by type and hash.
type WatchEvent struct {
	Subject custos.Subject `json:"subject"`
	Kind    WatchKind      `json:"kind"`
	Note    string         `json:"note,omitempty"`
	Remove  bool           `json:"remove,omitempty"`
}

// WatchlistHandler serves POST /api/v1/watchlist: a JSON array or NDJSON of
// WatchEvent, all or nothing, errors by {index, field, reason} without
// values. Mount it behind an admin-scope token: whoever can list a subject
// as a honeytoken decides what raises alarms.
type WatchlistHandler struct {
	List     *Watchlist
	Hash     func(typ, value string) (string, error)
	MaxBatch int // default 10,000
	// Log persists a change before it is applied; nil keeps the list in
	// memory only. A change Log refuses is not applied.
	Log WatchLog
}

// WatchLog persists watchlist changes (the event store), so that the list
// survives a restart. Entries carry hashes only.
type WatchLog interface {
	SaveWatchlist(ctx context.Context, set []WatchEntry, unset []string) error
}

type watchResponse struct {
	Listed   int                 `json:"listed"`
	Unlisted int                 `json:"unlisted"`
	Errors   []custos.FieldError `json:"errors,omitempty"`
	Error    string              `json:"error,omitempty"`
}

func (h *WatchlistHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, watchResponse{Error: "POST a JSON array or NDJSON of watchlist entries"})
		return
	}
	maxBatch := h.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 10000
	}
	events, ferrs, err := decodeBatch[WatchEvent](http.MaxBytesReader(w, r.Body, 8<<20), maxBatch)
	if err != nil {
		code := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, code, watchResponse{Error: err.Error(), Errors: ferrs})
		return
	}
	var set []WatchEntry
	var unset []string
	for i, ev := range events {
		hash, fe := subjectHash(i, ev.Subject, h.Hash)
		switch {
		case fe != nil:
			ferrs = append(ferrs, *fe)
		case ev.Remove:
			unset = append(unset, hash)
		case watchRank(ev.Kind) == 0:
			ferrs = append(ferrs, custos.FieldError{Index: i, Field: "kind", Reason: fmt.Sprintf("unknown kind %q (alert, approval, honeytoken)", ev.Kind)})
		default:
			set = append(set, WatchEntry{Subject: hash, Kind: ev.Kind, Note: ev.Note})
		}
	}
	if len(ferrs) > 0 {
		writeJSON(w, http.StatusBadRequest, watchResponse{Error: "invalid watchlist entries; none were applied", Errors: ferrs})
		return
	}
	if h.Log != nil {
		if err := h.Log.SaveWatchlist(r.Context(), set, unset); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, watchResponse{Error: "the watchlist could not be stored; nothing was applied"})
			return
		}
	}
	if err := h.List.Set(set...); err != nil {
		writeJSON(w, http.StatusBadRequest, watchResponse{Error: err.Error()})
		return
	}
	for _, s := range unset {
		h.List.Remove(s)
	}
	writeJSON(w, http.StatusOK, watchResponse{Listed: len(set), Unlisted: len(unset)})
}

// subjectHash validates a posted subject and returns its blind-index hash.
func subjectHash(i int, s custos.Subject, hash func(typ, value string) (string, error)) (string, *custos.FieldError) {
	fail := func(field, reason string) (string, *custos.FieldError) {
		return "", &custos.FieldError{Index: i, Field: field, Reason: reason}
	}
	switch {
	case s.Type == "":
		return fail("subject.type", "required")
	case !custos.KnownType(s.Type):
		return fail("subject.type", fmt.Sprintf("unknown data type %q", s.Type))
	case (s.Value == "") == (s.Hash == ""):
		return fail("subject", "exactly one of value and hash")
	case s.Masked != "":
		return fail("subject.masked", "not accepted here")
	case s.Hash != "":
		return s.Hash, nil
	case hash == nil:
		return fail("subject.value", "this server takes subject hashes only")
	}
	h, err := hash(s.Type, s.Value)
	if err != nil {
		// The hasher's errors never contain the value (blind's contract).
		return fail("subject.value", err.Error())
	}
	return h, nil
}
