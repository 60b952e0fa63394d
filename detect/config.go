package detect

import (
	"math"
	"net/netip"
	"time"
)

// Relations answers need-to-know questions: does the actor have a
// business relationship (booking, ticket, consented application) with
// the subject identified by its blind-index hash at time at?
type Relations interface {
	Related(actor, subjectType, hash string, at time.Time) bool
}

// Network places an address range for travel checks.
type Network struct {
	Prefix   netip.Prefix
	Name     string
	Lat, Lon float64
}

// Part selects the rules of an engine that sees only part of the events,
// as a cluster partition does. Every rule's state is keyed either by the
// actor (or login account) or by something shared by many actors (a login
// source, an identity document); an engine of each part, fed the events
// routed by that key, gives the alerts one PartAll engine gives over all
// events (peer-group baselines excepted: see docs/scale-out.md).
type Part int

const (
	// PartAll runs every rule (one engine sees every event).
	PartAll Part = iota
	// PartActor runs the rules keyed by actor or login account: all but
	// those of PartCross. It needs all of its actors' events (logins by
	// account), in order.
	PartActor
	// PartCross runs the rules whose state spans actors: login failures
	// from one source across accounts (stuffing_source), a success from
	// such a source and the accesses that follow it from there
	// (success_after_stuffing), and one identity document registered again
	// and again among several agents (id_document_reuse by document). It
	// needs every login and access event from the sources it owns and
	// every registration on the documents it owns.
	PartCross
)

// Config is the engine's configuration. DefaultConfig gives the shipped
// defaults; the zero value of a threshold field is not meaningful.
type Config struct {
	// Location is the organization's local time for days and hours.
	Location *time.Location
	// Watchlist and Honeytokens are subject blind-index hashes.
	Watchlist   map[string]bool
	Honeytokens map[string]bool
	// Relations, if set, enables the need-to-know rules.
	Relations Relations
	// Breached, if set, enables the breached-password rule.
	Breached *BreachedStore
	// Networks place source addresses for travel and session checks.
	Networks []Network
	// Disabled names rules that do not fire.
	Disabled map[string]bool

	// Part selects the rules this engine runs (zero: all of them).
	Part Part
	// OwnsSource and OwnsDocument say, for a PartCross engine, which login
	// sources (addresses) and identity documents (blind-index hashes) it
	// holds; an event also routed to it for another key is not counted
	// for this one. Nil holds all.
	OwnsSource   func(ip string) bool
	OwnsDocument func(hash string) bool

	// LearningDays is how many active days an actor needs before rules
	// that compare with their own history fire.
	LearningDays int

	BulkFloor       int // distinct subjects per day never alerted below
	BulkCreditFloor int // the same for credit data
	BulkHardStop    int // distinct subjects per day that is always high
	BulkPeerFactor  float64

	NoRelMin   int     // unrelated accesses per day before alerting
	NoRelRatio float64 // and their share of the day's accesses

	OffHoursProb float64 // hour-of-day probability below which is off-hours
	OffHoursMin  int     // off-hours accesses without a ticket per day

	CadenceWindow int     // intervals looked at
	CadenceCV     float64 // coefficient of variation below which is machine
	CadenceMaxGap time.Duration
	RatePerMinute int // record views per minute no human keeps up

	EnumWindow      int // requests looked at
	EnumSpan        time.Duration
	EnumDistinct    float64 // share of distinct subjects
	EnumUnrelated   float64 // share without relationship
	EnumOrdered     float64 // share of steps in one direction of the masked order that is a sorted sweep
	EnumSweepSpan   time.Duration
	ExportRows      int64   // rows without approval that always alert
	ExportFactor    float64 // × own p95 rows
	ExportMinRows   int64   // rows below which after-hours exports are ignored
	BulkResultRows  int64   // rows of one read or search result that count as an export after hours
	DormantAfter    time.Duration
	DormantKeep     time.Duration // how long an evicted actor's last activity is remembered
	DocReuse        int           // registrations on one ID document within DocWindow
	DocWindow       time.Duration
	DocsPerHour     int // distinct documents one agent registers per hour
	SessionKM       float64
	VelocityFirstHr int // distinct credit subjects in a session's first hour

	StuffBucket     float64 // leaky bucket capacity of failures per source
	StuffLeak       time.Duration
	StuffUsers      int // distinct failed accounts per source in StuffWindow
	StuffWindow     time.Duration
	StuffMaxSuccess float64 // success share of a source's logins above which its failures are not stuffing
	AccountSources  int     // distinct failing sources per account in StuffWindow
	TravelKMH       float64
	RiskHalfLife    time.Duration
	EscalateRisk    float64
	EscalateRules   int
	IncidentGap     time.Duration // a match this long after the last one opens a new alert
	ReportEvery     time.Duration // an open incident's state is returned at least this often (event time)
	MaxActors       int
	MaxSources      int
	IdleEvict       time.Duration
	StreamSkew      time.Duration // how far behind the access or login stream's clock state is kept for the other
	LeavingDivisor  float64       // thresholds are divided by this for leaving staff
	KnownSourcesMax int
}

// DefaultConfig returns the shipped defaults (see docs/detection.md).
func DefaultConfig() Config {
	return Config{
		Location:        time.UTC,
		LearningDays:    10,
		BulkFloor:       200,
		BulkCreditFloor: 50,
		BulkHardStop:    1000,
		BulkPeerFactor:  3,
		NoRelMin:        5,
		NoRelRatio:      0.05,
		OffHoursProb:    0.01,
		OffHoursMin:     3,
		CadenceWindow:   30,
		CadenceCV:       0.15,
		CadenceMaxGap:   30 * time.Second,
		RatePerMinute:   60,
		EnumWindow:      50,
		EnumSpan:        10 * time.Minute,
		EnumDistinct:    0.95,
		EnumUnrelated:   0.5,
		EnumOrdered:     0.9,
		EnumSweepSpan:   24 * time.Hour,
		ExportRows:      10000,
		ExportFactor:    10,
		ExportMinRows:   100,
		BulkResultRows:  1000,
		DormantAfter:    30 * 24 * time.Hour,
		DormantKeep:     400 * 24 * time.Hour,
		DocReuse:        3,
		DocWindow:       30 * 24 * time.Hour,
		DocsPerHour:     6,
		SessionKM:       500,
		VelocityFirstHr: 20,
		StuffBucket:     5,
		StuffLeak:       10 * time.Second,
		StuffUsers:      20,
		StuffWindow:     10 * time.Minute,
		StuffMaxSuccess: 0.2,
		AccountSources:  5,
		TravelKMH:       1000,
		RiskHalfLife:    24 * time.Hour,
		EscalateRisk:    90,
		EscalateRules:   3,
		IncidentGap:     24 * time.Hour,
		ReportEvery:     10 * time.Minute,
		MaxActors:       200000,
		MaxSources:      200000,
		IdleEvict:       45 * 24 * time.Hour,
		StreamSkew:      7 * 24 * time.Hour,
		LeavingDivisor:  2,
		KnownSourcesMax: 16,
	}
}

// locate returns the network of an address, if known.
func (c *Config) locate(ip string) (Network, bool) {
	if ip == "" || len(c.Networks) == 0 {
		return Network{}, false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return Network{}, false
	}
	for _, n := range c.Networks {
		if n.Prefix.Contains(a) {
			return n, true
		}
	}
	return Network{}, false
}

// distanceKM is the great-circle distance between two networks.
func distanceKM(a, b Network) float64 {
	const r = 6371.0
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dla := la2 - la1
	dlo := (b.Lon - a.Lon) * math.Pi / 180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}
