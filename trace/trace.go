package trace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
)

// Source answers the questions a trace asks about many subjects at once:
// which exports held them (and as canaries), and who accessed them.
// store/sqlite.Store implements it; Memory is an in-memory one.
type Source interface {
	// ExportHolders calls fn for every (key, export) pair; i indexes keys.
	ExportHolders(ctx context.Context, keys []export.Key, fn func(i int, exportID string, canary bool)) error
	// SubjectSightings calls fn for every access-index entry of the keys.
	SubjectSightings(ctx context.Context, keys []export.Key, fn func(i int, s export.Sighting)) error
	// ExportsByID returns the named exports that exist.
	ExportsByID(ctx context.Context, ids []string) ([]export.Export, error)
	// EventIDs maps access-index sequence numbers to event IDs.
	EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error)
}

// ProofFunc returns a ledger inclusion proof for an event, to attach to
// the evidence. A nil ProofFunc attaches none.
type ProofFunc func(ctx context.Context, eventID string) (any, error)

// Tracer attributes leaked files. Index and Source are required; the rest
// have useful zero values. A Tracer keeps no state between traces and is
// safe for concurrent use if its Source is.
type Tracer struct {
	Index  *blind.Index
	Source Source
	// Keyer recomputes export watermark keys; nil skips watermarks.
	Keyer *export.Keyer
	// NoFingerprints ignores canaries and watermarks: attribution from the
	// registry and the access index alone.
	NoFingerprints bool
	// Prior is the least probability that a leaked record was obtainable
	// elsewhere (the model's p); 0 means DefaultPrior.
	Prior float64
	// Threshold is the probability at or above which a suspect is named;
	// 0 means DefaultThreshold.
	Threshold float64
	// Suspects caps each ranking; 0 means 10.
	Suspects int
	// Evidence caps the evidence events listed per actor; 0 means 20.
	Evidence int
	// Proof, if set, attaches ledger proofs to the evidence.
	Proof ProofFunc
	// Before, if set, counts only accesses and exports before it: a leak
	// found at a time cannot have come from a later access or export,
	// and the colleague who handled the same people afterwards is not a
	// suspect.
	Before time.Time
}

// counts reports whether something that happened at tm can explain the
// leak (see Before).
func (t *Tracer) counts(tm time.Time) bool { return t.Before.IsZero() || tm.Before(t.Before) }

const (
	// DefaultPrior is the model's least p (see docs/tracing.md).
	DefaultPrior = 0.05
	// DefaultThreshold is the default confidence for naming a suspect.
	DefaultThreshold = 0.9
	// confirmedP is the watermark p-value below which an export counts as
	// confirmed by its fingerprint.
	confirmedP = 1e-6
	// canaryElsewhere is the probability that a canary identifier was
	// obtainable other than through its export.
	canaryElsewhere = 1e-6
	// fingerprintCandidates is how many exports (by guilt) are tested
	// for their watermarks, besides those with canaries.
	fingerprintCandidates = 20
	// batchRecords is how many records are looked up together.
	batchRecords = 4096
)

// state accumulates what the records say about the agents.
type state struct {
	t        *Tracer
	rep      *Report
	seen     map[export.Key]bool // primary keys of records already counted
	exportID []string            // interned export ids
	exportIx map[string]int32
	actorID  []string
	actorIx  map[string]int32
	records  []leaked
	actors   []actorStats
	exports  []exportStats
	batch    []*Record
	keys     []export.Key
	keyRec   []int32 // record of each key
	// canaryHits counts, per (record, export), the record's identifiers
	// that are canary identifiers of the export.
	canaryHits map[[2]int32]int
}

// leaked is one distinct leaked record and who held it.
type leaked struct {
	rec     *Record // kept only when an export held it (for watermarks)
	exports []int32 // exports holding it (real or canary)
	actors  []int32 // actors who accessed it or exported it
	// canaryOf lists the exports this record is a canary of.
	canaryOf []int32
}

func (l *leaked) canary() bool { return len(l.canaryOf) > 0 }

type actorStats struct {
	first, last time.Time
	seqs        []int64
	sightings   int
}

type exportStats struct {
	canaries int // canary records of this export in the file
}

// Trace reads the leaked file r (name gives its format by extension; its
// first bytes are sniffed otherwise) and returns the report.
func (t *Tracer) Trace(ctx context.Context, r io.Reader, name string) (*Report, error) {
	if t.Index == nil || t.Source == nil {
		return nil, errors.New("trace: Tracer needs an Index and a Source")
	}
	start := time.Now()
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(512)
	f := DetectFormat(name, head)
	st := &state{
		t:        t,
		rep:      &Report{File: name, Format: f, Threshold: t.threshold(), Before: t.Before},
		seen:     map[export.Key]bool{},
		exportIx: map[string]int32{},
		actorIx:  map[string]int32{},

		canaryHits: map[[2]int32]int{},
	}
	err := Read(ctx, br, f, func(rec *Record) error {
		st.rep.Records++
		st.batch = append(st.batch, rec)
		if len(st.batch) >= batchRecords {
			return st.flush(ctx)
		}
		return nil
	})
	if err == nil {
		err = st.flush(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := st.score(ctx); err != nil {
		return nil, err
	}
	st.rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return st.rep, nil
}

func (t *Tracer) threshold() float64 {
	if t.Threshold > 0 {
		return t.Threshold
	}
	return DefaultThreshold
}

func (t *Tracer) prior() float64 {
	if t.Prior > 0 {
		return t.Prior
	}
	return DefaultPrior
}

// flush hashes a batch of records, drops repeats and looks the rest up.
func (st *state) flush(ctx context.Context) error {
	st.keys, st.keyRec = st.keys[:0], st.keyRec[:0]
	first := len(st.records)
	for _, rec := range st.batch {
		var recKeys []export.Key
		for _, o := range rec.IDs {
			h, err := st.t.Index.Hash(o.Type, o.Normalized)
			if err != nil {
				continue
			}
			k := export.KeyOf(string(o.Type), h)
			if !slices.Contains(recKeys, k) {
				recKeys = append(recKeys, k)
			}
		}
		if len(recKeys) == 0 {
			continue
		}
		// A record is a repeat when any of its identifiers was already
		// seen: the same person listed twice is one leaked object.
		dup := false
		for _, k := range recKeys {
			if st.seen[k] {
				dup = true
			}
			st.seen[k] = true
		}
		if dup {
			st.rep.Repeats++
			continue
		}
		ri := int32(len(st.records))
		st.records = append(st.records, leaked{rec: rec})
		for _, k := range recKeys {
			st.keys = append(st.keys, k)
			st.keyRec = append(st.keyRec, ri)
		}
	}
	st.batch = st.batch[:0]
	if len(st.keys) == 0 {
		return nil
	}
	// Exports and accesses are looked up side by side: the callbacks
	// write different fields of the records and different state.
	var wg sync.WaitGroup
	var errExports error
	wg.Go(func() { errExports = st.lookupExports(ctx) })
	errAccesses := st.lookupAccesses(ctx)
	wg.Wait()
	if err := errors.Join(errExports, errAccesses); err != nil {
		return err
	}
	for i := first; i < len(st.records); i++ {
		if len(st.records[i].exports) == 0 {
			st.records[i].rec = nil // not needed for watermarks
		}
	}
	return nil
}

// lookupExports records which exports hold the batch's keys.
func (st *state) lookupExports(ctx context.Context) error {
	err := st.t.Source.ExportHolders(ctx, st.keys, func(i int, id string, canary bool) {
		l := &st.records[st.keyRec[i]]
		x := st.export(id)
		if !slices.Contains(l.exports, x) {
			l.exports = append(l.exports, x)
		}
		if canary {
			st.canaryHits[[2]int32{st.keyRec[i], x}]++
		}
	})
	if err != nil {
		return fmt.Errorf("trace: look up exports: %w", err)
	}
	// A record is one of an export's canaries when two of its
	// identifiers are that export's canary identifiers (see
	// export.Canary.Subjects).
	for rx, n := range st.canaryHits {
		if n >= 2 {
			st.records[rx[0]].canaryOf = append(st.records[rx[0]].canaryOf, rx[1])
			st.exports[rx[1]].canaries++
		}
	}
	clear(st.canaryHits)
	return nil
}

// lookupAccesses records who accessed the batch's keys.
func (st *state) lookupAccesses(ctx context.Context) error {
	err := st.t.Source.SubjectSightings(ctx, st.keys, func(i int, s export.Sighting) {
		if !st.t.counts(s.Time) {
			return
		}
		l := &st.records[st.keyRec[i]]
		a := st.actor(s.Actor)
		if !slices.Contains(l.actors, a) {
			l.actors = append(l.actors, a)
		}
		as := &st.actors[a]
		as.sightings++
		if as.first.IsZero() || s.Time.Before(as.first) {
			as.first = s.Time
		}
		if s.Time.After(as.last) {
			as.last = s.Time
		}
		if len(as.seqs) < st.t.evidence() && !slices.Contains(as.seqs, s.Seq) {
			as.seqs = append(as.seqs, s.Seq)
		}
	})
	if err != nil {
		return fmt.Errorf("trace: look up accesses: %w", err)
	}
	return nil
}

func (t *Tracer) evidence() int {
	if t.Evidence > 0 {
		return t.Evidence
	}
	return 20
}

func (st *state) export(id string) int32 {
	if x, ok := st.exportIx[id]; ok {
		return x
	}
	x := int32(len(st.exportID))
	st.exportIx[id] = x
	st.exportID = append(st.exportID, id)
	st.exports = append(st.exports, exportStats{})
	return x
}

func (st *state) actor(id string) int32 {
	if x, ok := st.actorIx[id]; ok {
		return x
	}
	x := int32(len(st.actorID))
	st.actorIx[id] = x
	st.actorID = append(st.actorID, id)
	st.actors = append(st.actors, actorStats{})
	return x
}

// guilt computes, for n agents, the model's probability that each leaked
// the records: each record t held by |V_t| agents contributes
// (1-p)/|V_t| to each of them, and
//
//	P(a guilty) = 1 - prod over t held by a of (1 - (1-p_a)/|V_t|),
//
// where p_a = max(prior, share of the known leaked records a did not
// hold): if a leaked the file, whatever else in it the organization knows
// came from elsewhere, at that rate. total is the number of known records.
//
// It returns each agent's log probability of innocence, ln(1-P), which
// unlike P does not round to 1 when the evidence is overwhelming.
func guilt(n, total int, prior float64, holders func(func(agents []int32))) (logNot []float64, held, exclusive []int) {
	held = make([]int, n)
	exclusive = make([]int, n)
	holders(func(agents []int32) {
		for _, a := range agents {
			held[a]++
			if len(agents) == 1 {
				exclusive[a]++
			}
		}
	})
	p := make([]float64, n)
	for a := range p {
		p[a] = max(prior, 1-float64(held[a])/float64(max(total, 1)))
	}
	logNot = make([]float64, n)
	holders(func(agents []int32) {
		for _, a := range agents {
			logNot[a] += math.Log1p(-(1 - p[a]) / float64(len(agents)))
		}
	})
	return logNot, held, exclusive
}
