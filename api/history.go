package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/custos-dev/custos"
)

type subjectAnswer struct {
	Subject    custos.Subject        `json:"subject"`
	Accesses   []custos.StoredAccess `json:"accesses"`
	NextBefore int64                 `json:"next_before,omitempty"`
	// Proofs, with ?proof=1, maps event ids to inclusion proofs in the
	// tamper-evident ledger. Events not yet covered by a checkpoint (the
	// ledger trails the store by about a second) have none yet.
	Proofs any `json:"proofs,omitempty"`
}

// Proofs builds ledger inclusion proofs for a page of events.
type Proofs interface {
	ProofsFor(ctx context.Context, ids []string) (any, error)
}

// subjectAccesses answers "who accessed this person's data". The value is
// normalized and blind-indexed; the answer carries only its hash and a
// masked form. The query is itself recorded as an access by the token's
// holder, so that look-ups through Custos are as visible as any other.
func (s *Server) subjectAccesses(w http.ResponseWriter, r *http.Request) {
	typ, value := r.PathValue("type"), r.PathValue("value")
	wantProof := r.URL.Query().Get("proof") == "1"
	if wantProof && s.Proofs == nil {
		WriteError(w, http.StatusBadRequest, "proof=1: the ledger is not enabled on this node")
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	hash, err := s.Index.Hash(typ, value)
	if err != nil {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("subject value is not a valid %s: %v", typ, err))
		return
	}
	accesses, err := s.History.SubjectAccesses(r.Context(), typ, hash, q)
	if err != nil {
		s.Log.Error("api: subject history", "err", err)
		WriteError(w, http.StatusInternalServerError, "history query failed")
		return
	}
	if err := s.recordLookup(r, typ, value, len(accesses)); err != nil {
		s.Log.Error("api: record subject look-up", "err", err)
		WriteError(w, http.StatusServiceUnavailable, "the look-up could not be recorded, so it is not answered")
		return
	}
	subject := custos.Subject{Type: typ, Hash: hash}
	for _, a := range accesses {
		for _, sub := range a.Subjects {
			if sub.Hash == hash {
				subject.Masked = sub.Masked
			}
		}
	}
	ans := subjectAnswer{Subject: subject, Accesses: nonNil(accesses), NextBefore: nextBefore(accesses, q)}
	if wantProof {
		ids := make([]string, len(accesses))
		for i, a := range accesses {
			ids[i] = a.ID
		}
		if ans.Proofs, err = s.Proofs.ProofsFor(r.Context(), ids); err != nil {
			s.Log.Error("api: ledger proofs", "err", err)
			WriteError(w, http.StatusServiceUnavailable, "ledger proofs unavailable")
			return
		}
	}
	WriteJSON(w, http.StatusOK, ans)
}

// recordLookup appends the investigator's own access event.
func (s *Server) recordLookup(r *http.Request, typ, value string, n int) error {
	tok := tokenFrom(r.Context())
	ev := custos.AccessEvent{
		ID:       "lookup-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + tok.ID,
		Time:     time.Now().UTC(),
		Actor:    custos.Actor{ID: "token:" + tok.Name, Roles: []string{"api"}},
		Source:   custos.Source{IP: remoteIP(r), UserAgent: clipUA(r.UserAgent())},
		Channel:  custos.ChannelHTTP,
		Action:   custos.ActionSearch,
		Resource: custos.Resource{System: "custos", Object: "subject_history", Route: "GET /api/v1/subjects/{type}/{value}/accesses"},
		Subjects: []custos.Subject{{Type: typ, Value: value}},
		Records:  int64(n),
	}
	_, err := s.Pipeline.Access(r.Context(), []custos.AccessEvent{ev})
	return err
}

type actorAnswer struct {
	Actor      string                `json:"actor"`
	Events     []custos.StoredAccess `json:"events"`
	NextBefore int64                 `json:"next_before,omitempty"`
}

func (s *Server) actorEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	events, err := s.History.ActorAccesses(r.Context(), id, q)
	if err != nil {
		s.Log.Error("api: actor history", "err", err)
		WriteError(w, http.StatusInternalServerError, "history query failed")
		return
	}
	WriteJSON(w, http.StatusOK, actorAnswer{Actor: id, Events: nonNil(events), NextBefore: nextBefore(events, q)})
}

type loginsAnswer struct {
	Account    string               `json:"account,omitempty"`
	Source     string               `json:"source,omitempty"`
	Logins     []custos.StoredLogin `json:"logins"`
	NextBefore int64                `json:"next_before,omitempty"`
}

func (s *Server) accountLogins(w http.ResponseWriter, r *http.Request) {
	account := r.PathValue("account")
	s.logins(w, r, loginsAnswer{Account: account}, func(q custos.Query) ([]custos.StoredLogin, error) {
		return s.History.AccountLogins(r.Context(), account, q)
	})
}

func (s *Server) sourceLogins(w http.ResponseWriter, r *http.Request) {
	ip := r.PathValue("ip")
	if net.ParseIP(ip) == nil {
		WriteError(w, http.StatusBadRequest, "source: not an IP address")
		return
	}
	s.logins(w, r, loginsAnswer{Source: ip}, func(q custos.Query) ([]custos.StoredLogin, error) {
		return s.History.SourceLogins(r.Context(), ip, q)
	})
}

// logins answers a login-history query: ans names what was asked, read
// runs it.
func (s *Server) logins(w http.ResponseWriter, r *http.Request, ans loginsAnswer, read func(custos.Query) ([]custos.StoredLogin, error)) {
	q, err := parseQuery(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	logins, err := read(q)
	if err != nil {
		s.Log.Error("api: login history", "err", err)
		WriteError(w, http.StatusInternalServerError, "history query failed")
		return
	}
	if len(logins) == q.Limit {
		ans.NextBefore = logins[len(logins)-1].Seq
	}
	ans.Logins = logins
	if ans.Logins == nil {
		ans.Logins = []custos.StoredLogin{}
	}
	WriteJSON(w, http.StatusOK, ans)
}

// parseQuery reads from, to (RFC 3339), limit and before (a sequence
// number from a previous answer's next_before).
func parseQuery(r *http.Request) (custos.Query, error) {
	v := r.URL.Query()
	q := custos.Query{Limit: custos.DefaultLimit}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, fmt.Errorf("query parameter %s: not an RFC 3339 time", p.name)
			}
			*p.dst = t
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > custos.MaxLimit {
			return q, fmt.Errorf("query parameter limit: want 1 to %d", custos.MaxLimit)
		}
		q.Limit = n
	}
	if s := v.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return q, fmt.Errorf("query parameter before: want a positive sequence number")
		}
		q.Before = n
	}
	return q, nil
}

func nextBefore(events []custos.StoredAccess, q custos.Query) int64 {
	if len(events) == q.Limit && len(events) > 0 {
		return events[len(events)-1].Seq
	}
	return 0
}

func nonNil(events []custos.StoredAccess) []custos.StoredAccess {
	if events == nil {
		return []custos.StoredAccess{}
	}
	return events
}

func remoteIP(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	return host
}

func clipUA(ua string) string {
	if len(ua) > 200 {
		return ua[:200]
	}
	return ua
}
