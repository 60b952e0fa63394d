package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/custos-dev/custos/export"
)

// Verdict is the conclusion of a trace.
type Verdict string

const (
	// VerdictConfident: one suspect is at or above the threshold and no
	// other is, or it alone is confirmed by its fingerprint, or it leads
	// the next by DominanceMargin.
	VerdictConfident Verdict = "confident"
	// VerdictAmbiguous: several suspects are at or above the threshold
	// and nothing tells them apart (they held the same records).
	VerdictAmbiguous Verdict = "ambiguous"
	// VerdictNone: no suspect reaches the threshold.
	VerdictNone Verdict = "no confident match"
)

// Report is the result of a trace. It holds identifiers of exports,
// actors and events, never a value from the leaked file.
type Report struct {
	File      string  `json:"file"`
	Format    Format  `json:"format"`
	Records   int     `json:"records"`  // records with at least one identifier
	Repeats   int     `json:"repeats"`  // records repeating an earlier one
	Distinct  int     `json:"distinct"` // distinct leaked records (the model's objects)
	Known     int     `json:"known"`    // held by an export or seen in the access index
	Unknown   int     `json:"unknown"`  // known to nobody here: from elsewhere
	Canaries  int     `json:"canaries"` // records that are canaries
	Threshold float64 `json:"threshold"`
	Prior     float64 `json:"prior"`
	// Fingerprints is false when canaries and watermarks were ignored.
	Fingerprints bool `json:"fingerprints"`
	// Before, if set, is the time from which accesses and exports were
	// not counted (Tracer.Before).
	Before time.Time `json:"before,omitzero"`
	// ExportVerdict and ActorVerdict conclude each ranking.
	ExportVerdict Verdict   `json:"export_verdict"`
	ActorVerdict  Verdict   `json:"actor_verdict"`
	Exports       []Suspect `json:"exports"`
	Actors        []Suspect `json:"actors"`
	Elapsed       string    `json:"elapsed,omitempty"`
}

// Suspect is a ranked export or actor.
type Suspect struct {
	ID    string `json:"id"`
	Actor string `json:"actor,omitempty"` // an export's recipient
	// Probability is the model's probability that this suspect leaked
	// the file, fingerprint evidence included.
	Probability float64 `json:"probability"`
	// Score is -log10(1 - Probability): the same evidence on a scale that
	// does not saturate (6 means a one-in-a-million chance of innocence
	// under the model). Suspects are ranked by it.
	Score float64 `json:"score"`
	// Matched is how many distinct leaked records it held; Exclusive how
	// many nobody else held.
	Matched   int `json:"matched"`
	Exclusive int `json:"exclusive"`
	// Accesses counts an actor's access-index entries for the leaked
	// identifiers (one per identifier per event: an event that touched a
	// person's ID number and mobile counts twice).
	Accesses int `json:"accesses,omitempty"`
	// Canaries is how many canary records of its exports are in the file.
	Canaries int `json:"canaries,omitempty"`
	// Watermark is the watermark test, when one was run.
	Watermark *WatermarkResult `json:"watermark,omitempty"`
	// Confirmed: a canary or a watermark (p below 1e-6 after correction)
	// ties the file to it.
	Confirmed bool       `json:"confirmed,omitempty"`
	First     time.Time  `json:"first,omitzero"` // time window of its accesses or its export
	Last      time.Time  `json:"last,omitzero"`
	Exports   []string   `json:"exports,omitempty"` // an actor's exports among the suspects
	Evidence  []Evidence `json:"evidence,omitempty"`
}

// WatermarkResult is the outcome of an export's watermark tests.
type WatermarkResult struct {
	Order  *export.Score `json:"order,omitempty"`
	Format *export.Score `json:"format,omitempty"`
	// PValue is the smaller test's p-value corrected for the number of
	// tests and candidates (Bonferroni), at most 1.
	PValue float64 `json:"p_value"`
}

// Evidence is one access event behind a ranking: an actor's accesses to
// leaked people, or the event that recorded an export.
type Evidence struct {
	EventID string `json:"event_id"`
	Seq     int64  `json:"seq,omitempty"`
	Proof   any    `json:"proof,omitempty"`
	// ProofError says why a requested proof is missing (the event is not
	// in the ledger, or not yet covered by a checkpoint): an investigator
	// must be able to tell "no proof asked" from "no proof to be had".
	ProofError string `json:"proof_error,omitempty"`
}

// prove attaches ev's ledger proof, or the reason there is none.
func (ev *Evidence) prove(ctx context.Context, f ProofFunc) {
	if f == nil {
		return
	}
	if ev.EventID == "" {
		ev.ProofError = "no event id for this access-index entry"
		return
	}
	p, err := f(ctx, ev.EventID)
	if err != nil {
		ev.ProofError = err.Error()
		return
	}
	ev.Proof = p
}

// score turns the accumulated records into the two rankings.
func (st *state) score(ctx context.Context) error {
	t, rep := st.t, st.rep
	rep.Distinct = len(st.records)
	rep.Prior = t.prior()
	rep.Fingerprints = !t.NoFingerprints

	// Export documents: recipients, times and watermark settings.
	docs := make([]*export.Export, len(st.exportID))
	got, err := t.Source.ExportsByID(ctx, st.exportID)
	if err != nil {
		return fmt.Errorf("trace: read exports: %w", err)
	}
	for i := range got {
		if x, ok := st.exportIx[got[i].ID]; ok {
			docs[x] = &got[i]
		}
	}
	var late []bool
	if !t.Before.IsZero() {
		late = st.dropLateExports(docs)
	}
	for i := range st.records {
		l := &st.records[i]
		if len(l.exports) > 0 || len(l.actors) > 0 {
			rep.Known++
		}
		if l.canary() {
			rep.Canaries++
		}
	}
	rep.Unknown = rep.Distinct - rep.Known

	// An export's recipient held its records too.
	for i := range st.records {
		l := &st.records[i]
		for _, x := range l.exports {
			if docs[x] != nil {
				if a := st.actor(docs[x].Actor); !slices.Contains(l.actors, a) {
					l.actors = append(l.actors, a)
				}
			}
		}
	}
	n := rep.Known
	eLog, eHeld, eExcl := guilt(len(st.exportID), n, rep.Prior, func(f func([]int32)) {
		for i := range st.records {
			if !t.NoFingerprints || !st.records[i].canary() {
				f(st.records[i].exports)
			}
		}
	})
	aLog, aHeld, aExcl := guilt(len(st.actorID), n, rep.Prior, func(f func([]int32)) {
		for i := range st.records {
			if !t.NoFingerprints || !st.records[i].canary() {
				f(st.records[i].actors)
			}
		}
	})

	// Fingerprints: canaries and watermarks multiply the probability
	// that the suspect is innocent by the chance of that evidence
	// arising without it.
	factor := make([]float64, len(st.exportID))
	wm := make([]*WatermarkResult, len(st.exportID))
	for x := range factor {
		factor[x] = 1
	}
	if !t.NoFingerprints {
		for x, es := range st.exports {
			if c := es.canaries; c > 0 {
				factor[x] *= math.Pow(canaryElsewhere, float64(c))
			}
		}
		if t.Keyer != nil {
			st.watermarks(eLog, docs, factor, wm)
		}
	}

	// Exports ranking.
	var exports []Suspect
	for x, id := range st.exportID {
		if late != nil && late[x] {
			continue
		}
		s := Suspect{ID: id, Matched: eHeld[x], Exclusive: eExcl[x], Watermark: wm[x]}
		s.setLogInnocence(eLog[x] + math.Log(factor[x]))
		if !t.NoFingerprints {
			s.Canaries = st.exports[x].canaries
			s.Confirmed = s.Canaries > 0 || (wm[x] != nil && wm[x].PValue < confirmedP)
		}
		if d := docs[x]; d != nil {
			s.Actor, s.First, s.Last = d.Actor, d.Time, d.Time
			if d.EventID != "" {
				s.Evidence = []Evidence{{EventID: d.EventID}}
			}
		}
		exports = append(exports, s)
	}
	// A file confirmed as one export's copy explains every other export
	// whose records it (nearly) all holds: those are scaled down by the
	// confirming evidence's chance of being wrong.
	explained := st.explainedBy(exports, factor, func(i int) []int32 { return st.records[i].exports }, func(s Suspect) int32 { return st.exportIx[s.ID] })
	for i := range exports {
		if f := explained[st.exportIx[exports[i].ID]]; f < 1 {
			exports[i].scale(f)
		}
	}
	sortSuspects(exports)

	// Actors ranking: an actor's own accesses, and the fingerprint
	// evidence of the exports they received.
	actorFactor := make([]float64, len(st.actorID))
	for a := range actorFactor {
		actorFactor[a] = 1
	}
	actorExports := make([][]string, len(st.actorID))
	actorConfirmed := make([]bool, len(st.actorID))
	actorCanaries := make([]int, len(st.actorID))
	for _, s := range exports {
		if s.Actor == "" {
			continue
		}
		a := st.actorIx[s.Actor]
		actorFactor[a] *= factor[st.exportIx[s.ID]]
		actorConfirmed[a] = actorConfirmed[a] || s.Confirmed
		actorCanaries[a] += s.Canaries
		if s.Matched > 0 {
			actorExports[a] = append(actorExports[a], s.ID)
		}
	}
	var actors []Suspect
	for a, id := range st.actorID {
		s := Suspect{ID: id, Matched: aHeld[a], Exclusive: aExcl[a],
			Confirmed: actorConfirmed[a], Canaries: actorCanaries[a], Accesses: st.actors[a].sightings,
			First: st.actors[a].first, Last: st.actors[a].last}
		s.setLogInnocence(aLog[a] + math.Log(actorFactor[a]))
		if len(actorExports[a]) > 10 {
			actorExports[a] = actorExports[a][:10]
		}
		s.Exports = actorExports[a]
		actors = append(actors, s)
	}
	// Recipients of a confirmed export are confirmed; everyone whose
	// records the confirmed copy explains is scaled down as above.
	var confirmedActors []Suspect
	for _, s := range actors {
		if s.Confirmed {
			confirmedActors = append(confirmedActors, s)
		}
	}
	if len(confirmedActors) > 0 {
		// The confirming factor of an actor is that of their exports.
		explainedA := st.explainedBy(actors, actorFactor, func(i int) []int32 { return st.records[i].actors }, func(s Suspect) int32 { return st.actorIx[s.ID] })
		for i := range actors {
			if f := explainedA[st.actorIx[actors[i].ID]]; f < 1 {
				actors[i].scale(f)
			}
		}
	}
	for _, s := range exports {
		if s.Actor == "" || s.First.IsZero() {
			continue
		}
		for i := range actors {
			if actors[i].ID == s.Actor && slices.Contains(actors[i].Exports, s.ID) {
				if actors[i].First.IsZero() || s.First.Before(actors[i].First) {
					actors[i].First = s.First
				}
				if s.Last.After(actors[i].Last) {
					actors[i].Last = s.Last
				}
			}
		}
	}
	sortSuspects(actors)

	limit := t.Suspects
	if limit <= 0 {
		limit = 10
	}
	rep.Exports = exports[:min(limit, len(exports))]
	rep.Actors = actors[:min(limit, len(actors))]
	rep.ExportVerdict = verdict(rep.Exports, rep.Threshold)
	rep.ActorVerdict = verdict(rep.Actors, rep.Threshold)
	if rep.Exports == nil {
		rep.Exports = []Suspect{}
	}
	if rep.Actors == nil {
		rep.Actors = []Suspect{}
	}
	return st.attachEvidence(ctx)
}

// dropLateExports forgets the exports made at or after Tracer.Before:
// their records no longer count as held by them (or by their recipient
// through them), and their canaries no longer count. A record that only
// such an export held becomes unknown here, as it was when the leak was
// found. It returns which exports are late; their documents are
// dropped, so they are neither ranked nor tested for watermarks.
func (st *state) dropLateExports(docs []*export.Export) []bool {
	late := make([]bool, len(docs))
	for x, d := range docs {
		if d != nil && !st.t.counts(d.Time) {
			late[x] = true
			st.exports[x].canaries = 0
			docs[x] = nil
		}
	}
	for i := range st.records {
		l := &st.records[i]
		isLate := func(x int32) bool { return late[x] }
		l.exports = slices.DeleteFunc(l.exports, isLate)
		l.canaryOf = slices.DeleteFunc(l.canaryOf, isLate)
	}
	return late
}

// explainedBy returns, for every agent, the factor by which a confirmed
// suspect explains it: when at least 90% of the records agent a held are
// also held by a confirmed suspect c (and a is not confirmed itself), a's
// probability is multiplied by c's fingerprint factor (the chance that the
// confirmation is wrong). Other agents get 1.
func (st *state) explainedBy(s []Suspect, factor []float64, agentsOf func(i int) []int32, ix func(Suspect) int32) []float64 {
	out := make([]float64, len(factor))
	for i := range out {
		out[i] = 1
	}
	confirmed := map[int32]bool{}
	for _, x := range s {
		if x.Confirmed {
			confirmed[ix(x)] = true
		}
	}
	if len(confirmed) == 0 {
		return out
	}
	for c := range confirmed {
		held := make([]int, len(factor))
		both := make([]int, len(factor))
		for i := range st.records {
			agents := agentsOf(i)
			inC := slices.Contains(agents, c)
			for _, a := range agents {
				held[a]++
				if inC {
					both[a]++
				}
			}
		}
		for a := range out {
			if confirmed[int32(a)] || held[a] == 0 {
				continue
			}
			if float64(both[a]) >= 0.9*float64(held[a]) {
				out[a] = min(out[a], factor[c])
			}
		}
	}
	return out
}

// watermarks tests the candidate exports' watermarks on the records they
// held, in file order.
func (st *state) watermarks(logNot []float64, docs []*export.Export, factor []float64, out []*WatermarkResult) {
	order := make([]int, len(logNot))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmpFloatDesc(logNot[b], logNot[a])
	})
	var cands []int
	for i, x := range order {
		if i < fingerprintCandidates || st.exports[x].canaries > 0 {
			if d := docs[x]; d != nil && (d.Watermark.Order || len(d.Watermark.Variants) > 0) {
				cands = append(cands, x)
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	held := make(map[int32][]*export.LeakedRecord, len(cands))
	want := map[int32]bool{}
	for _, x := range cands {
		want[int32(x)] = true
	}
	for i := range st.records {
		l := &st.records[i]
		if l.rec == nil {
			continue
		}
		for _, x := range l.exports {
			if want[x] {
				held[x] = append(held[x], &l.rec.LeakedRecord)
			}
		}
	}
	for _, x := range cands {
		d := docs[x]
		key := st.t.Keyer.Key(d.ID)
		r := &WatermarkResult{PValue: 1}
		tests := 0
		best := 1.0
		if d.Watermark.Order {
			s := export.OrderScore(key, held[int32(x)])
			r.Order = &s
			tests++
			best = min(best, s.PValue)
		}
		if len(d.Watermark.Variants) > 0 {
			s := export.FormatScore(key, d.Watermark.Variants, held[int32(x)])
			r.Format = &s
			tests++
			best = min(best, s.PValue)
		}
		r.PValue = min(1, best*float64(tests*len(cands)))
		out[x] = r
		factor[x] *= r.PValue
	}
}

// setLogInnocence sets Probability and Score from ln(1-P).
func (s *Suspect) setLogInnocence(l float64) {
	l = min(l, 0)
	s.Probability = -math.Expm1(l)
	s.Score = -l / math.Ln10
}

// scale multiplies the probability by f (an exonerating factor).
func (s *Suspect) scale(f float64) {
	s.setLogInnocence(math.Log1p(-s.Probability * f))
}

func cmpFloatDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// sortSuspects ranks confirmed suspects first, then by probability,
// matched and exclusive records, then by ID for a stable report.
func sortSuspects(s []Suspect) {
	slices.SortFunc(s, func(a, b Suspect) int {
		if a.Confirmed != b.Confirmed {
			if a.Confirmed {
				return -1
			}
			return 1
		}
		if c := cmpFloatDesc(a.Score, b.Score); c != 0 {
			return c
		}
		if a.Matched != b.Matched {
			return b.Matched - a.Matched
		}
		if a.Exclusive != b.Exclusive {
			return b.Exclusive - a.Exclusive
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// DominanceMargin is how far (in Score, i.e. orders of magnitude of the
// odds of innocence) the top suspect must lead the second for a confident
// verdict when both are at or above the threshold.
const DominanceMargin = 2.0

// verdict concludes a ranking: confident when the top suspect is at or
// above the threshold and stands apart — the only one there, the only one
// confirmed by a fingerprint, or ahead of the next by DominanceMargin.
func verdict(s []Suspect, threshold float64) Verdict {
	switch {
	case len(s) == 0 || s[0].Probability < threshold:
		return VerdictNone
	case len(s) == 1 || s[1].Probability < threshold:
		return VerdictConfident
	case s[0].Confirmed && !s[1].Confirmed:
		return VerdictConfident
	case !s[1].Confirmed && s[0].Score-s[1].Score >= DominanceMargin:
		return VerdictConfident
	}
	return VerdictAmbiguous
}

// attachEvidence names the access events behind the listed actors.
func (st *state) attachEvidence(ctx context.Context) error {
	for i := range st.rep.Exports {
		for j := range st.rep.Exports[i].Evidence {
			st.rep.Exports[i].Evidence[j].prove(ctx, st.t.Proof)
		}
	}
	var seqs []int64
	for _, s := range st.rep.Actors {
		seqs = append(seqs, st.actors[st.actorIx[s.ID]].seqs...)
	}
	if len(seqs) == 0 {
		return nil
	}
	ids, err := st.t.Source.EventIDs(ctx, seqs)
	if err != nil {
		return fmt.Errorf("trace: evidence: %w", err)
	}
	for i := range st.rep.Actors {
		s := &st.rep.Actors[i]
		for _, q := range st.actors[st.actorIx[s.ID]].seqs {
			ev := Evidence{EventID: ids[q], Seq: q}
			ev.prove(ctx, st.t.Proof)
			s.Evidence = append(s.Evidence, ev)
		}
		slices.SortFunc(s.Evidence, func(a, b Evidence) int { return int(a.Seq - b.Seq) })
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for a terminal.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "file %s (%s): %d records with identifiers, %d distinct, %d repeats\n", r.File, r.Format, r.Records, r.Distinct, r.Repeats)
	fmt.Fprintf(w, "known to the organization: %d; from elsewhere: %d; canaries: %d\n", r.Known, r.Unknown, r.Canaries)
	fp := "on"
	if !r.Fingerprints {
		fp = "off"
	}
	fmt.Fprintf(w, "model: guilt (Papadimitriou & Garcia-Molina), prior p >= %.2f, threshold %.2f, fingerprints %s\n", r.Prior, r.Threshold, fp)
	if !r.Before.IsZero() {
		fmt.Fprintf(w, "counting accesses and exports before %s only\n", r.Before.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	section := func(title string, v Verdict, s []Suspect, exports bool) {
		fmt.Fprintf(w, "%s: %s\n", title, v)
		if len(s) == 0 {
			fmt.Fprintln(w, "  (none)")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if exports {
			fmt.Fprintln(tw, "  RANK\tEXPORT\tRECIPIENT\tP\tMATCHED\tEXCLUSIVE\tCANARIES\tWATERMARK p\tTIME")
		} else {
			fmt.Fprintln(tw, "  RANK\tACTOR\tP\tMATCHED\tEXCLUSIVE\tCANARIES\tWINDOW\tEVIDENCE")
		}
		for i, x := range s {
			mark := ""
			if x.Confirmed {
				mark = " (fingerprint)"
			}
			if exports {
				wmp := "-"
				if x.Watermark != nil {
					wmp = fmt.Sprintf("%.1e", x.Watermark.PValue)
				}
				fmt.Fprintf(tw, "  %d\t%s\t%s\t%.4f%s\t%d\t%d\t%d\t%s\t%s\n", i+1, x.ID, x.Actor, x.Probability, mark, x.Matched, x.Exclusive, x.Canaries, wmp, fmtTime(x.First))
			} else {
				var ev []string
				for _, e := range x.Evidence {
					if len(ev) == 3 {
						ev = append(ev, fmt.Sprintf("+%d", len(x.Evidence)-3))
						break
					}
					ev = append(ev, e.EventID)
				}
				fmt.Fprintf(tw, "  %d\t%s\t%.4f%s\t%d\t%d\t%d\t%s .. %s\t%s\n", i+1, x.ID, x.Probability, mark, x.Matched, x.Exclusive, x.Canaries, fmtTime(x.First), fmtTime(x.Last), strings.Join(ev, " "))
			}
		}
		tw.Flush()
	}
	section("exports", r.ExportVerdict, r.Exports, true)
	fmt.Fprintln(w)
	section("actors", r.ActorVerdict, r.Actors, false)
	// With --proofs, say how many evidence events are backed by a ledger
	// proof (the proofs themselves are in --format json).
	proved, missing, firstErr := 0, 0, ""
	for _, s := range append(slices.Clip(r.Exports), r.Actors...) {
		for _, e := range s.Evidence {
			switch {
			case e.Proof != nil:
				proved++
			case e.ProofError != "":
				missing++
				if firstErr == "" {
					firstErr = e.ProofError
				}
			}
		}
	}
	if proved+missing > 0 {
		fmt.Fprintf(w, "\nledger proofs: %d of %d evidence events", proved, proved+missing)
		if missing > 0 {
			fmt.Fprintf(w, "; missing for %d (first: %s)", missing, firstErr)
		}
		fmt.Fprintln(w, "; --format json lists them")
	}
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}
