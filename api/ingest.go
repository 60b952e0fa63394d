package api

import (
	"net/http"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/ingest"
)

type ingestAnswer struct {
	Accepted   int `json:"accepted"`
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
}

// postEvents takes a batch of access events. The 200 answer is sent only
// once the whole batch is durable; any invalid event rejects the batch.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	events, err := ingest.Decode[custos.AccessEvent](http.MaxBytesReader(w, r.Body, s.MaxBody), s.MaxBatch)
	var res custos.AppendResult
	if err == nil {
		res, err = s.Pipeline.Access(r.Context(), events)
	}
	s.answerIngest(w, r, "access", len(events), res, err, start)
}

// postLogins takes a batch of login events, with the same guarantees.
func (s *Server) postLogins(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	events, err := ingest.Decode[custos.LoginEvent](http.MaxBytesReader(w, r.Body, s.MaxBody), s.MaxBatch)
	var res custos.AppendResult
	if err == nil {
		res, err = s.Pipeline.Logins(r.Context(), events)
	}
	s.answerIngest(w, r, "login", len(events), res, err, start)
}

func (s *Server) answerIngest(w http.ResponseWriter, r *http.Request, kind string, n int, res custos.AppendResult, err error, start time.Time) {
	if err != nil {
		result := "failed"
		if code := ingestStatus(err); code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge {
			result = "rejected"
			s.metrics.events.WithLabelValues(kind, "rejected").Add(float64(n))
		}
		s.metrics.batches.WithLabelValues(kind, result).Inc()
		s.writeIngestError(w, r, err)
		return
	}
	s.metrics.batches.WithLabelValues(kind, "accepted").Inc()
	s.metrics.events.WithLabelValues(kind, "stored").Add(float64(res.Stored))
	s.metrics.events.WithLabelValues(kind, "duplicate").Add(float64(res.Duplicates))
	WriteJSON(w, http.StatusOK, ingestAnswer{Accepted: n, Stored: res.Stored, Duplicates: res.Duplicates})
}
