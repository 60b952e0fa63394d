package detect

import (
	"hash/fnv"
	"strconv"
	"time"
)

// Fields are exported for the snapshot encoder (encoding/gob); the types
// are not part of the API.

// actorState is what the engine remembers about one actor (an employee
// id, which is also their login account).
type actorState struct {
	Role string
	// Day is the local day number the daily counters belong to.
	Day            int64
	Distinct       map[uint64]struct{}
	CreditDistinct int
	Accesses       int
	Unrelated      int
	OffHours       int
	BulkFiredDay   int64
	History        []int // distinct subjects on the last active days
	Hours          [24]int
	HoursTotal     int
	ActiveDays     int
	Categories     map[string]bool
	LastSeen       time.Time
	// Times is a ring of recent request times (unix nanoseconds).
	Times    [64]int64
	TimesN   int
	Enum     []enumEntry
	EnumPos  int
	EnumLast string // masked form of the previous subject, for its order
	Exports  []int64
	Regs     []regEntry
	Risk     float64
	RiskAt   time.Time
	Fired    map[string]time.Time
	Known    []string // login sources seen
	Logins   int
	LastNet  Network
	HasNet   bool
	LoginAt  time.Time
	FailSrcs map[string]int64
	// Sessions are the actor's sessions by session id.
	Sessions map[string]*sessionState
}

type enumEntry struct {
	T       int64
	Key     uint64
	Related bool
	// Dir is how the subject's masked form compares with the previous
	// one's: +1 after it, -1 before it, 0 equal or not comparable.
	Dir int8
}

type docEntry struct {
	T     int64
	Actor string
}

type regEntry struct {
	T   int64
	Doc uint64
}

// sourceState tracks logins from one address.
type sourceState struct {
	Level      float64
	LevelAt    int64
	Failed     map[string]int64 // account → last failure
	BurstUntil int64
	LastSeen   int64
	AlertKey   string
	// OK and Failures count the address's logins, decayed with a
	// half-life of StuffWindow since CountAt: a shared office address
	// has many failures but far more successes.
	OK, Failures float64
	CountAt      int64
}

type sessionState struct {
	Actor  string
	IP     string
	Start  int64
	Credit map[uint64]struct{}
}

type compromise struct {
	IP    string
	Until int64
	Key   string
}

// peerStats holds one role's daily distinct-subject counts.
type peerStats struct {
	Day    int64
	Counts []int
	Median float64
}

// subjectKey turns a blind-index hash into a compact key.
func subjectKey(h string) uint64 {
	if len(h) >= 16 {
		if v, err := strconv.ParseUint(h[:16], 16, 64); err == nil {
			return v
		}
	}
	f := fnv.New64a()
	f.Write([]byte(h))
	return f.Sum64()
}

func median(xs []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := append([]int(nil), xs...)
	for i := 1; i < len(c); i++ { // insertion sort: tens of values
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	if len(c)%2 == 1 {
		return float64(c[len(c)/2])
	}
	return float64(c[len(c)/2-1]+c[len(c)/2]) / 2
}
