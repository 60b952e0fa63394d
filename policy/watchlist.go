package policy

import (
	"sync"

	"github.com/custos-dev/custos"
)

// WatchKind says what access to a listed subject triggers.
type WatchKind string

const (
	// WatchAlert: every access raises an alert (celebrities, staff family
	// members); the decision is otherwise unchanged.
	WatchAlert WatchKind = "alert"
	// WatchApproval: every access needs approval (minors, protected
	// persons), and raises an alert.
	WatchApproval WatchKind = "approval"
	// WatchHoneytoken: a fictitious subject nobody has a reason to look
	// up; any access is an alarm. The decision is left as it was so that
	// the insider is not warned.
	WatchHoneytoken WatchKind = "honeytoken"
)

// WatchEntry lists one subject (blind-index hash).
type WatchEntry struct {
	Subject string    `json:"subject" yaml:"subject"`
	Kind    WatchKind `json:"kind" yaml:"kind"`
	// Note says why (kept with the list, never shown to the accessor).
	Note string `json:"note,omitempty" yaml:"note,omitempty"`
}

// Watchlist is the set of watched and honeytoken subjects, by hash. Safe
// for concurrent use.
type Watchlist struct {
	mu sync.RWMutex
	m  map[string]WatchKind
}

// NewWatchlist returns an empty watchlist.
func NewWatchlist() *Watchlist { return &Watchlist{m: map[string]WatchKind{}} }

// Set lists subjects; a subject listed twice keeps the strongest kind
// (honeytoken over approval over alert).
func (w *Watchlist) Set(entries ...WatchEntry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range entries {
		if watchRank(e.Kind) == 0 {
			return &WatchKindError{Kind: e.Kind}
		}
		if watchRank(e.Kind) > watchRank(w.m[e.Subject]) {
			w.m[e.Subject] = e.Kind
		}
	}
	return nil
}

// Remove unlists a subject.
func (w *Watchlist) Remove(subject string) {
	w.mu.Lock()
	delete(w.m, subject)
	w.mu.Unlock()
}

// Kind returns how a subject is listed, or "".
func (w *Watchlist) Kind(subject string) WatchKind {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.m[subject]
}

// WatchKindError reports an unknown watch kind.
type WatchKindError struct{ Kind WatchKind }

func (e *WatchKindError) Error() string {
	return "policy: unknown watch kind " + string(e.Kind) + " (alert, approval, honeytoken)"
}

func watchRank(k WatchKind) int {
	switch k {
	case WatchAlert:
		return 1
	case WatchApproval:
		return 2
	case WatchHoneytoken:
		return 3
	}
	return 0
}

var (
	watchlistIDs  = "watchlist"
	honeytokenIDs = "honeytoken"
)

// apply marks a decision for the listed subjects among subjects. Each
// kind present has its effect, not only the strongest: a request that
// touches a honeytoken and a minor who needs approval still needs the
// approval (and the honeytoken still alarms).
func (w *Watchlist) apply(d Decision, subjects []string) Decision {
	var honey, approval, alert bool
	w.mu.RLock()
	if len(w.m) > 0 {
		for _, s := range subjects {
			switch w.m[s] {
			case WatchHoneytoken:
				honey = true
			case WatchApproval:
				approval = true
			case WatchAlert:
				alert = true
			}
		}
	}
	w.mu.RUnlock()
	if !honey && !approval && !alert {
		return d
	}
	d.Alert = true
	if approval && strictness(d.Effect) < strictness(custos.DecisionApprovalRequired) {
		d.Effect = custos.DecisionApprovalRequired
		d.Mask = nil
		d.Reason = "the data subject is on a watchlist that requires approval"
	}
	if approval || alert {
		d.Rules = appendRule(d.Rules, watchlistIDs)
	}
	if honey {
		d.Alarm = true
		d.Rules = appendRule(d.Rules, honeytokenIDs)
	}
	return d
}

// appendRule appends without writing into a slice shared with the policy.
func appendRule(rules []string, id string) []string {
	out := make([]string, 0, len(rules)+1)
	return append(append(out, rules...), id)
}

// Hashes returns the listed subject hashes of one kind, for consumers
// that keep their own copy (the detection engine).
func (w *Watchlist) Hashes(kind WatchKind) map[string]bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := map[string]bool{}
	for h, k := range w.m {
		if k == kind {
			out[h] = true
		}
	}
	return out
}
