package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/ocsf"
)

// Feed is the part of the store a SIEM pull feed reads: events after a
// sequence number, in order.
type Feed interface {
	AccessSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAccess, error)
	LoginsSince(ctx context.Context, seq int64, limit int) ([]custos.StoredLogin, error)
}

type feedAnswer[T any] struct {
	Events []T   `json:"events"`
	Next   int64 `json:"next"` // pass as after= to continue
}

// parseFeed reads after (a sequence number; 0 from the start), limit and
// format (custos or ocsf).
func parseFeed(r *http.Request) (after int64, limit int, asOCSF bool, msg string) {
	v := r.URL.Query()
	limit = 1000
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, "query parameter after: want a sequence number ≥ 0"
		}
		after = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > custos.MaxLimit {
			return 0, 0, false, "query parameter limit: want 1 to 10000"
		}
		limit = n
	}
	switch v.Get("format") {
	case "", "custos":
	case "ocsf":
		asOCSF = true
	default:
		return 0, 0, false, "query parameter format: want custos or ocsf"
	}
	return after, limit, asOCSF, ""
}

// eventFeed serves stored access events in sequence order, as Custos v1
// documents or OCSF Datastore Activity, for SIEMs that pull.
func (s *Server) eventFeed(w http.ResponseWriter, r *http.Request) {
	serveFeed(s, w, r, s.Feed.AccessSince, func(e custos.StoredAccess) int64 { return e.Seq }, ocsf.Access)
}

// loginFeed is eventFeed for logins (OCSF Authentication).
func (s *Server) loginFeed(w http.ResponseWriter, r *http.Request) {
	serveFeed(s, w, r, s.Feed.LoginsSince, func(e custos.StoredLogin) int64 { return e.Seq }, ocsf.Login)
}

func serveFeed[E any](s *Server, w http.ResponseWriter, r *http.Request,
	since func(context.Context, int64, int) ([]E, error), seq func(E) int64, toOCSF func(E) ocsf.Event,
) {
	after, limit, asOCSF, msg := parseFeed(r)
	if msg != "" {
		WriteError(w, http.StatusBadRequest, msg)
		return
	}
	evs, err := since(r.Context(), after, limit)
	if err != nil {
		s.Log.Error("api: feed", "err", err)
		WriteError(w, http.StatusInternalServerError, "feed query failed")
		return
	}
	next := after
	if len(evs) > 0 {
		next = seq(evs[len(evs)-1])
	}
	if asOCSF {
		out := make([]ocsf.Event, len(evs))
		for i, e := range evs {
			out[i] = toOCSF(e)
		}
		WriteJSON(w, http.StatusOK, feedAnswer[ocsf.Event]{Events: out, Next: next})
		return
	}
	if evs == nil {
		evs = []E{}
	}
	WriteJSON(w, http.StatusOK, feedAnswer[E]{Events: evs, Next: next})
}
