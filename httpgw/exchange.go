package httpgw

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/policy"
)

type exchangeKey struct{}

// exchange is one request's state, from identity to its access event.
type exchange struct {
	route   *route
	ep      *endpoint
	public  bool
	bearer  string
	start   time.Time
	actor   custos.Actor
	source  custos.Source
	purpose custos.Purpose
	action  custos.Action
	object  string

	reqSubjects []custos.Subject
	reqHashes   []string
	respHashes  []string

	decision policy.Decision
	outcome  custos.Outcome
	status   int
	bytes    int64
	records  int64
	types    []custos.DataType
	cats     []custos.Category
	subjects []custos.Subject
	recorded bool
	// limited is {limit, records held} when a limit decision cut the
	// response (or refused it: records -1 when uncounted).
	limited [2]int64
}

func (g *Gateway) newExchange(r *http.Request, rt *route, id identity) *exchange {
	x := &exchange{
		route:  rt,
		start:  g.deps.Now(),
		actor:  id.actor,
		bearer: id.bearer,
		source: custos.Source{IP: clientIP(r), UserAgent: clip(r.UserAgent(), 512), Session: id.session},
		purpose: custos.Purpose{
			Name:   clip(firstOf(r.Header.Get("X-Custos-Purpose"), r.URL.Query().Get("custos_purpose")), 512),
			Ticket: clip(firstOf(r.Header.Get("X-Custos-Ticket"), r.URL.Query().Get("custos_ticket")), 512),
		},
		outcome: custos.OutcomeSuccess,
	}
	// Which endpoint is this? The mux matches the path the upstream sees.
	probe, u := *r, *r.URL
	u.Path, u.RawPath = rt.upstreamPath(r.URL.Path), ""
	probe.URL = &u
	var ep *endpoint
	var pathValues map[string]string
	if _, pat := rt.mux.Handler(&probe); pat != "" {
		ep = rt.eps[pat]
	}
	x.ep = ep
	if ep != nil {
		x.object = ep.pattern
		x.action = ep.action
		pathValues = matchWildcards(ep.pattern, probe.URL.Path)
		for _, sp := range ep.subjects {
			v := pathValues[sp.Path]
			if sp.Query != "" {
				v = r.URL.Query().Get(sp.Query)
			}
			if v == "" {
				continue
			}
			h, err := g.deps.Index.Hash(sp.Type, v)
			if err != nil {
				continue // not a well-formed identifier: names nobody
			}
			x.reqSubjects = append(x.reqSubjects, custos.Subject{Type: sp.Type, Value: v})
			x.reqHashes = append(x.reqHashes, h)
		}
	} else {
		// Unknown endpoint: never put the raw path in the event (it may
		// hold an identifier); the route prefix names it.
		x.object = r.Method + " " + rt.Prefix
	}
	if x.action == "" {
		x.action = actionOf(r.Method)
	}
	return x
}

// matchWildcards reads the {name} segments of a ServeMux pattern from path.
func matchWildcards(pattern, path string) map[string]string {
	_, p, _ := strings.Cut(pattern, " ")
	ps := strings.Split(strings.Trim(p, "/"), "/")
	vs := strings.Split(strings.Trim(path, "/"), "/")
	out := map[string]string{}
	for i, seg := range ps {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") || i >= len(vs) {
			continue
		}
		name := strings.TrimSuffix(seg[1:len(seg)-1], "...")
		if name == "$" {
			continue
		}
		if strings.HasSuffix(seg, "...}") {
			out[name] = strings.Join(vs[i:], "/")
		} else {
			out[name] = vs[i]
		}
	}
	return out
}

func actionOf(method string) custos.Action {
	switch method {
	case http.MethodPost:
		return custos.ActionCreate
	case http.MethodPut, http.MethodPatch:
		return custos.ActionUpdate
	case http.MethodDelete:
		return custos.ActionDelete
	default:
		return custos.ActionRead
	}
}

// decide asks the policy about the exchange. final is the decision on the
// response: it carries the response's subjects and types and counts
// against quotas; the decision before forwarding does not count.
func (g *Gateway) decide(ctx context.Context, x *exchange, final bool) policy.Decision {
	if g.deps.Policy == nil {
		return policy.Decision{Effect: custos.DecisionMask, Rules: []string{"default:no_policy"}}
	}
	req := &policy.Request{
		Time:       x.start,
		Actor:      x.actor,
		Source:     x.source,
		Channel:    custos.ChannelHTTP,
		Action:     x.action,
		Resource:   custos.Resource{System: x.route.System, Object: x.object, Route: x.object},
		Purpose:    x.purpose,
		Subjects:   subjectHashes(x),
		DataTypes:  x.types,
		Categories: x.cats,
		Records:    x.records,
	}
	eng := g.deps.Policy
	if !final {
		pre := *eng
		pre.Quotas = nil
		eng = &pre
	}
	return eng.Decide(ctx, req)
}

func (x *exchange) deny(d policy.Decision) {
	x.decision = d
	x.outcome = custos.OutcomeFailure
}

// event builds the exchange's access event.
func (x *exchange) event(now time.Time) custos.AccessEvent {
	subjects := x.subjects
	if len(subjects) == 0 {
		subjects = x.reqSubjects
	}
	return custos.AccessEvent{
		ID:         newEventID(),
		Time:       x.start,
		Actor:      x.actor,
		Source:     x.source,
		Channel:    custos.ChannelHTTP,
		Action:     x.action,
		Resource:   custos.Resource{System: x.route.System, Object: x.object, Route: x.object},
		Purpose:    x.purpose,
		Subjects:   slices.Clone(subjects),
		DataTypes:  x.types,
		Categories: x.cats,
		Records:    x.records,
		Bytes:      x.bytes,
		Decision:   x.decision.Effect,
		Rules:      x.decision.Rules,
		Outcome:    x.outcome,
	}
}

// durableError marks a failure to record: the response must not go out.
type durableError struct{ err error }

func (e *durableError) Error() string { return "access event not durable: " + e.err.Error() }

// record makes the exchange's access event durable. Its subjects were
// blind-indexed for the policy already: they go to the pipeline sealed
// (hash and masked form, no value), so that each is hashed once.
func (g *Gateway) record(ctx context.Context, x *exchange) error {
	if x.recorded {
		return nil
	}
	x.recorded = true
	ev := x.event(g.deps.Now())
	var err error
	// The hashes are the gateway's Index's; they are the pipeline's own
	// only when both hold the same Index.
	if sealed, ok := x.sealedSubjects(ev.Subjects); ok && g.deps.Pipeline.Index == g.deps.Index {
		ev.Subjects = sealed
		_, err = g.deps.Pipeline.AccessSealed(ctx, []custos.AccessEvent{ev})
	} else {
		_, err = g.deps.Pipeline.Access(ctx, []custos.AccessEvent{ev})
	}
	if err != nil {
		return &durableError{err: err}
	}
	return nil
}

// sealedSubjects seals the event's subjects with the hashes the exchange
// computed for the policy: the same hash and masked form blind.Index.Seal
// gives. ok is false when a subject has no hash of its own (then the
// pipeline seals them all).
func (x *exchange) sealedSubjects(subjects []custos.Subject) ([]custos.Subject, bool) {
	hashes := x.reqHashes
	if len(x.subjects) > 0 {
		hashes = subjectHashes(x)
	}
	if len(hashes) != len(subjects) {
		return nil, false
	}
	out := make([]custos.Subject, len(subjects))
	for i, s := range subjects {
		n, err := pii.Normalize(s.Type, s.Value)
		if err != nil || hashes[i] == "" {
			return nil, false
		}
		out[i] = custos.Subject{Type: s.Type, Hash: hashes[i], Masked: mask.Partial(s.Type, n)}
	}
	return out, true
}

// refuse records a refused request and answers it.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, x *exchange, status int, code, msg string) {
	x.status = status
	if err := g.record(r.Context(), x); err != nil {
		g.fail(w, x, err)
		return
	}
	writeProblem(w, r, status, code, msg)
}

// refuseDecision answers a deny or approval_required decision.
func (g *Gateway) refuseDecision(w http.ResponseWriter, r *http.Request, x *exchange) {
	x.outcome = custos.OutcomeFailure
	code, msg := refusalText(x.decision)
	g.refuse(w, r, x, http.StatusForbidden, code, msg)
}

func refusalText(d policy.Decision) (code, msg string) {
	if d.Effect == custos.DecisionApprovalRequired {
		return "approval_required", "This access needs an approver's grant (rules: " + strings.Join(d.Rules, ", ") +
			"). Ask for one with `custos approve request` or POST /api/v1/approvals, giving the purpose and ticket; " +
			"once granted, repeat the request with the same purpose (X-Custos-Purpose and X-Custos-Ticket headers)."
	}
	return "denied", "Access denied by policy (rules: " + strings.Join(d.Rules, ", ") + ")."
}

func (g *Gateway) fail(w http.ResponseWriter, x *exchange, err error) {
	g.log.Error("httpgw: access event not durable; request refused", "err", err, "system", x.route.System)
	http.Error(w, "the access could not be recorded; try again", http.StatusServiceUnavailable)
}

var problemPage = template.Must(template.New("p").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Custos: {{.Code}}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>{{.Title}}</h1><p>{{.Message}}</p><p><small>Custos · {{.Code}}</small></p></body></html>`))

// writeProblem answers with JSON, or a short HTML page for browsers.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		problemPage.Execute(w, map[string]string{"Code": code, "Title": http.StatusText(status), "Message": msg})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}

func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// subjectHashes are the blind-index hashes of every subject the exchange
// touched: named by the request and found in the response.
func subjectHashes(x *exchange) []string {
	if len(x.respHashes) == 0 {
		return x.reqHashes
	}
	return append(slices.Clone(x.reqHashes), x.respHashes...)
}
