package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// eraseSubject serves POST /api/v1/subjects/{type}/{value}/erase: the
// right to erasure, or the end of a retention period, for one person. The
// store forgets the subject (history rows, export rows, relationships,
// watchlist; events keep a tombstone), then, once the ledger has caught
// up with the store, the subject's data key is destroyed, so the ledger's
// entries about them stay in the tree but can no longer be tied to them.
// The audit event names the erased key id, never the subject.
func (s *Server) eraseSubject(w http.ResponseWriter, r *http.Request) {
	typ, value := r.PathValue("type"), r.PathValue("value")
	hash, err := s.Index.Hash(typ, value)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "subject: "+err.Error())
		return
	}
	ctx := r.Context()
	events, err := s.Store.EraseSubject(ctx, typ, hash)
	if err != nil {
		s.log.Error("erase subject", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "erasure failed; nothing was shredded")
		return
	}
	s.Watchlist.Remove(hash)
	kid := ""
	if s.Ledger != nil {
		s.waitLedgerCaughtUp(ctx, 30*time.Second)
		if kid, err = s.Ledger.Shred(ctx, hash); err != nil {
			s.log.Error("shred subject key", "err", err)
			writeJSONError(w, http.StatusInternalServerError, "the index was erased but the ledger key was not; retry")
			return
		}
	}
	s.audit(ctx, tokenName(ctx), "subject.erased", kid, map[string]string{"type": typ, "events": strconv.Itoa(events)})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"erased": true, "events": events, "ledger_key": kid})
}

// waitLedgerCaughtUp waits until the ledger has appended every stored
// access event, so that none is sealed with a key made after the shred.
func (s *Server) waitLedgerCaughtUp(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		lag, err := s.Ledger.MeasureLag(ctx, s.Store, 1)
		if err == nil && lag.PendingAccess == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.log.Warn("ledger still behind the store when shredding a subject key")
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
