package policy

import (
	"fmt"
	"sync"
	"time"

	"github.com/custos-dev/custos"
)

type quotaDoc struct {
	ID          string          `yaml:"id"`
	Description string          `yaml:"description"`
	Match       matchDoc        `yaml:"match"`
	Subjects    int             `yaml:"subjects"`
	Records     int64           `yaml:"records"`
	Window      string          `yaml:"window"`
	OnExceed    custos.Decision `yaml:"on_exceed"`
}

// QuotaRule limits how many distinct data subjects and how many records one
// actor may see in a sliding window, for the requests its match selects
// (by role, category, system …): "agents: 200 passengers a day",
// "20 credit reports an hour".
type QuotaRule struct {
	ID       string
	Subjects int
	Records  int64
	Window   time.Duration
	OnExceed custos.Decision
	match    *rule
	index    int
}

func (c *compiler) buildQuotas(p *Policy, docs []quotaDoc) {
	seen := map[string]bool{}
	for i, d := range docs {
		at := fmt.Sprintf("$.quotas[%d]", i)
		pos := c.itemPos(at)
		q := &QuotaRule{ID: d.ID, Subjects: d.Subjects, Records: d.Records, OnExceed: d.OnExceed, index: i}
		if d.ID == "" {
			c.errorf(pos, "", "quotas[%d]: id required", i)
		} else if seen[d.ID] {
			c.errorf(c.pos(at+".id"), d.ID, "duplicate quota id")
		}
		seen[d.ID] = true
		if d.Subjects <= 0 && d.Records <= 0 {
			c.errorf(pos, d.ID, "a quota needs subjects > 0 or records > 0")
		}
		if d.Subjects < 0 || d.Records < 0 {
			c.errorf(pos, d.ID, "negative quota")
		}
		w, err := time.ParseDuration(d.Window)
		switch {
		case d.Window == "":
			c.errorf(pos, d.ID, "window required (e.g. 1h, 24h)")
		case err != nil || w <= 0:
			c.errorf(c.pos(at+".window"), d.ID, "window %q: want a positive duration like 1h or 24h", d.Window)
		}
		q.Window = w
		switch q.OnExceed {
		case "":
			q.OnExceed = custos.DecisionDeny
		case custos.DecisionDeny, custos.DecisionApprovalRequired:
		default:
			c.errorf(c.pos(at+".on_exceed"), d.ID, "on_exceed %q: deny or approval_required", d.OnExceed)
		}
		q.match = &rule{id: d.ID}
		c.buildMatch(q.match, at+".match", d.Match)
		p.quotas = append(p.quotas, q)
	}
}

// Quotas holds the sliding-window counters of every quota and actor. Checks
// are exact under concurrency: one request's check and its recording happen
// under the locks of all the counters it touches, taken in a fixed order.
// Counters live in memory and survive policy reloads (they are keyed by
// quota id); several Custos instances need a shared store, which this type
// does not provide.
type Quotas struct {
	mu       sync.Mutex
	counters map[quotaKey]*counter
}

type quotaKey struct{ quota, actor string }

// NewQuotas returns empty counters.
func NewQuotas() *Quotas { return &Quotas{counters: make(map[quotaKey]*counter)} }

// counter is one actor's sliding window for one quota: the distinct
// subjects seen with the time each was last seen, a queue of (time,
// subject) in time order to expire them, and a queue of record counts.
type counter struct {
	mu       sync.Mutex
	lastSeen map[string]int64
	subjQ    []subjectSeen
	subjHead int
	recQ     []recordsSeen
	recHead  int
	recSum   int64
}

type subjectSeen struct {
	at      int64
	subject string
}

type recordsSeen struct {
	at int64
	n  int64
}

func (q *Quotas) counter(quota, actor string) *counter {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := quotaKey{quota, actor}
	c := q.counters[k]
	if c == nil {
		c = &counter{lastSeen: make(map[string]int64)}
		q.counters[k] = c
	}
	return c
}

// expire drops what left the window (at or before cutoff).
func (c *counter) expire(cutoff int64) {
	for c.subjHead < len(c.subjQ) && c.subjQ[c.subjHead].at <= cutoff {
		e := c.subjQ[c.subjHead]
		// A later sighting of the same subject keeps it in the window.
		if c.lastSeen[e.subject] == e.at {
			delete(c.lastSeen, e.subject)
		}
		c.subjQ[c.subjHead] = subjectSeen{}
		c.subjHead++
	}
	if c.subjHead > 64 && c.subjHead > len(c.subjQ)/2 {
		c.subjQ = append(c.subjQ[:0], c.subjQ[c.subjHead:]...)
		c.subjHead = 0
	}
	for c.recHead < len(c.recQ) && c.recQ[c.recHead].at <= cutoff {
		c.recSum -= c.recQ[c.recHead].n
		c.recHead++
	}
	if c.recHead > 64 && c.recHead > len(c.recQ)/2 {
		c.recQ = append(c.recQ[:0], c.recQ[c.recHead:]...)
		c.recHead = 0
	}
}

// newSubjects counts the distinct subjects of req not yet in the window.
func (c *counter) newSubjects(subjects []string) int {
	n := 0
	for i, s := range subjects {
		if _, ok := c.lastSeen[s]; ok {
			continue
		}
		dup := false
		for _, t := range subjects[:i] {
			if t == s {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return n
}

func (c *counter) record(now int64, subjects []string, records int64) {
	for _, s := range subjects {
		if c.lastSeen[s] == now {
			continue // duplicate within the request
		}
		c.lastSeen[s] = now
		c.subjQ = append(c.subjQ, subjectSeen{at: now, subject: s})
	}
	if records > 0 {
		c.recQ = append(c.recQ, recordsSeen{at: now, n: records})
		c.recSum += records
	}
}

// Usage is one actor's current use of one quota.
type Usage struct {
	Subjects int
	Records  int64
}

// Usage returns the actor's use of quota q at now.
func (q *Quotas) Usage(rule *QuotaRule, actor string, now time.Time) Usage {
	c := q.counter(rule.ID, actor)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now.Add(-rule.Window).UnixNano())
	return Usage{Subjects: len(c.lastSeen), Records: c.recSum}
}

// Admit checks the request against every quota in rules and, only if none
// would be exceeded, records it in all of them. It returns the first
// exceeded quota, or nil.
func (q *Quotas) Admit(rules []*QuotaRule, actor string, subjects []string, records int64, now time.Time) *QuotaRule {
	if len(rules) == 0 {
		return nil
	}
	var buf [4]*counter
	cs := buf[:0]
	for _, r := range rules {
		cs = append(cs, q.counter(r.ID, actor))
	}
	// rules come in policy order, so every request locks in the same order.
	for _, c := range cs {
		c.mu.Lock()
	}
	defer func() {
		for _, c := range cs {
			c.mu.Unlock()
		}
	}()
	at := now.UnixNano()
	for i, r := range rules {
		c := cs[i]
		c.expire(at - int64(r.Window))
		if r.Subjects > 0 && len(c.lastSeen)+c.newSubjects(subjects) > r.Subjects {
			return r
		}
		if r.Records > 0 && c.recSum+records > r.Records {
			return r
		}
	}
	for _, c := range cs {
		c.record(at, subjects, records)
	}
	return nil
}

// Sweep drops counters with nothing left in their window, to bound memory
// for actors who stopped working; call it now and then.
func (q *Quotas) Sweep(p *Policy, now time.Time) int {
	windows := map[string]time.Duration{}
	for _, r := range p.quotas {
		windows[r.ID] = r.Window
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for k, c := range q.counters {
		w, ok := windows[k.quota]
		c.mu.Lock()
		if ok {
			c.expire(now.Add(-w).UnixNano())
		}
		empty := !ok || len(c.lastSeen) == 0 && c.recSum == 0
		c.mu.Unlock()
		if empty {
			delete(q.counters, k)
			n++
		}
	}
	return n
}

// Quota returns the quota rule with id, or nil.
func (p *Policy) Quota(id string) *QuotaRule {
	for _, r := range p.quotas {
		if r.ID == id {
			return r
		}
	}
	return nil
}
