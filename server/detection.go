package server

import (
	"context"
	"encoding/json"

	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/bus/local"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

// detection runs the detection engine as a bus consumer: every stored
// event is analysed in store order, alerts are upserted into the store,
// and the engine's state is snapshotted with the offsets it covers, so a
// restart resumes from the snapshot and re-reads only what came after.
type detection struct {
	engine    *detect.Engine
	relations *detect.RelationTable
	store     *sqlite.Store
	dir       string
	interval  time.Duration

	// onAlerts, when set, sees every batch's alerts once they are stored
	// (responses on the gateways).
	onAlerts func(context.Context, []detect.Alert)

	mu       sync.Mutex
	covered  offsets // the last sequence numbers the engine has seen
	lastSave time.Time
}

// offsets are the sequence numbers a snapshot covers.
type offsets struct {
	Access int64 `json:"access"`
	Logins int64 `json:"logins"`
}

const detectConsumer = "detect"

func newDetection(ctx context.Context, st *sqlite.Store, dataDir string, loc *time.Location, interval time.Duration) (*detection, error) {
	d := &detection{
		relations: detect.NewRelationTable(),
		store:     st,
		dir:       filepath.Join(dataDir, "detect"),
		interval:  interval,
	}
	cfg := detect.DefaultConfig()
	cfg.Location = loc
	cfg.Relations = d.relations
	d.engine = detect.New(cfg)
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	loaded, err := d.engine.LoadSnapshot(d.snapshotPath())
	if err != nil {
		return nil, fmt.Errorf("detect: load snapshot: %w", err)
	}
	// The bus resumes from the consumer's offsets; make them what the
	// snapshot covers, so that no event is missing from the engine's state
	// (and none counted twice) whatever happened since the snapshot.
	if loaded {
		b, err := os.ReadFile(d.offsetsPath())
		if err != nil {
			return nil, fmt.Errorf("detect: snapshot without offsets: %w", err)
		}
		if err := json.Unmarshal(b, &d.covered); err != nil {
			return nil, fmt.Errorf("detect: read offsets: %w", err)
		}
	}
	for name, seq := range map[string]int64{detectConsumer + ":access": d.covered.Access, detectConsumer + ":logins": d.covered.Logins} {
		if err := st.SetOffset(ctx, name, seq); err != nil {
			return nil, err
		}
	}
	d.lastSave = time.Now()
	return d, nil
}

func (d *detection) snapshotPath() string { return filepath.Join(d.dir, "engine.snapshot") }
func (d *detection) offsetsPath() string  { return filepath.Join(d.dir, "engine.offsets") }

// consumer is the bus consumer feeding the engine. The bus hands over the
// access and login streams in alternate batches of up to a thousand, so
// during a backfill one stream can be days ahead of the other; the engine
// needs one stream in event time (a login that takes an account over must
// come before the accesses made with it). So every batch is merged with
// the other stream's stored events up to its own events' times, read
// from the store; the bus later delivers those again, and events the
// engine has already seen (at or below covered) are skipped.
func (d *detection) consumer() local.Consumer {
	return local.Consumer{
		Name: detectConsumer,
		Access: func(ctx context.Context, evs []custos.StoredAccess) error {
			var alerts []detect.Alert
			logins := lookahead[custos.StoredLogin]{since: d.store.LoginsSince}
			for i := range evs {
				if evs[i].Seq <= d.coveredAt(false) {
					continue
				}
				err := logins.until(ctx, evs[i].Time, d.coveredAt(true), func(l *custos.StoredLogin) (int64, time.Time) { return l.Seq, l.Time }, func(l *custos.StoredLogin) {
					alerts = append(alerts, d.engine.ProcessLogin(&l.LoginEvent)...)
					d.cover(true, l.Seq)
				})
				if err != nil {
					return err
				}
				alerts = append(alerts, d.engine.ProcessAccess(&evs[i].AccessEvent)...)
				d.cover(false, evs[i].Seq)
			}
			return d.after(ctx, alerts)
		},
		Logins: func(ctx context.Context, evs []custos.StoredLogin) error {
			var alerts []detect.Alert
			accesses := lookahead[custos.StoredAccess]{since: d.store.AccessSince}
			for i := range evs {
				if evs[i].Seq <= d.coveredAt(true) {
					continue
				}
				err := accesses.until(ctx, evs[i].Time, d.coveredAt(false), func(a *custos.StoredAccess) (int64, time.Time) { return a.Seq, a.Time }, func(a *custos.StoredAccess) {
					alerts = append(alerts, d.engine.ProcessAccess(&a.AccessEvent)...)
					d.cover(false, a.Seq)
				})
				if err != nil {
					return err
				}
				alerts = append(alerts, d.engine.ProcessLogin(&evs[i].LoginEvent)...)
				d.cover(true, evs[i].Seq)
			}
			return d.after(ctx, alerts)
		},
	}
}

// coveredAt returns the last sequence number of the login (or access)
// stream the engine has seen; cover moves it.
func (d *detection) coveredAt(login bool) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if login {
		return d.covered.Logins
	}
	return d.covered.Access
}

func (d *detection) cover(login bool, seq int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if login {
		d.covered.Logins = seq
	} else {
		d.covered.Access = seq
	}
}

// lookaheadBatch is how many of the other stream's events a batch reads
// at a time for the merge.
const lookaheadBatch = 256

// lookahead reads one stream from the store, a few events at a time,
// for merging into a batch of the other.
type lookahead[E any] struct {
	since func(context.Context, int64, int) ([]E, error)
	buf   []E
	dry   bool // the store had no more when last read
	after int64
}

// until hands fn, in stream order, the stream's events after seq (the
// covered position when the batch started) whose time is not after t.
func (l *lookahead[E]) until(ctx context.Context, t time.Time, seq int64, at func(*E) (int64, time.Time), fn func(*E)) error {
	if l.after < seq {
		l.after = seq
	}
	for {
		if len(l.buf) == 0 {
			if l.dry {
				return nil
			}
			evs, err := l.since(ctx, l.after, lookaheadBatch)
			if err != nil {
				return fmt.Errorf("detect: merge streams: %w", err)
			}
			l.buf, l.dry = evs, len(evs) < lookaheadBatch
			if len(evs) == 0 {
				return nil
			}
		}
		n, et := at(&l.buf[0])
		if et.After(t) {
			return nil
		}
		fn(&l.buf[0])
		l.after = n
		l.buf = l.buf[1:]
	}
}

// after stores a batch's alerts and, when due, snapshots the engine.
func (d *detection) after(ctx context.Context, alerts []detect.Alert) error {
	if err := d.store.UpsertAlerts(ctx, detect.Records(alerts)); err != nil {
		return err
	}
	if d.onAlerts != nil && len(alerts) > 0 {
		d.onAlerts(ctx, alerts)
	}
	d.mu.Lock()
	due := time.Since(d.lastSave) >= d.interval
	d.mu.Unlock()
	if due {
		return d.save()
	}
	return nil
}

// save writes the snapshot, then the offsets it covers. A crash between
// the two leaves old offsets beside a newer snapshot: a few events are
// analysed twice, which alert ids (stable per incident) absorb.
func (d *detection) save() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.engine.SaveSnapshot(d.snapshotPath()); err != nil {
		return fmt.Errorf("detect: snapshot: %w", err)
	}
	b, _ := json.Marshal(d.covered)
	tmp := d.offsetsPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("detect: offsets: %w", err)
	}
	if err := os.Rename(tmp, d.offsetsPath()); err != nil {
		return fmt.Errorf("detect: offsets: %w", err)
	}
	d.lastSave = time.Now()
	return nil
}

// AppendRelationships feeds relationships posted to the API into the
// engine's need-to-know table (it implements policy.RelationshipLog).
func (d *detection) AppendRelationships(ctx context.Context, added, removed []policy.Relationship) error {
	for _, r := range added {
		d.relations.Add(r.Actor, r.Subject, r.Expires)
	}
	return nil
}
