package cluster

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"slices"
	"time"

	"github.com/custos-dev/custos"
	natsbus "github.com/custos-dev/custos/bus/nats"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/server"
)

// detector runs one detection engine per partition it holds.
type detector struct {
	n        *Node
	cfg      detect.Config
	interval time.Duration
	state    *sharedState
	// suspend lists the rules whose alerts suspend their actor on every
	// gateway node (alerts.suspend_rules); review those that put it under
	// review (alerts.approval_rules).
	suspend, review []string
}

func newDetector(n *Node, cfg config.Config) (*detector, error) {
	loc, err := time.LoadLocation(cfg.Detect.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("cluster: detect time zone: %w", err)
	}
	dc := DetectConfig(loc)
	return &detector{n: n, cfg: dc, interval: cfg.Detect.Snapshots(), state: newSharedState(),
		suspend: cfg.Alerts.SuspendRules, review: cfg.Alerts.ApprovalRules}, nil
}

// refresh reloads relationships and the watchlist every stateRefresh
// until ctx ends; a failed reload keeps the previous ones.
func (d *detector) refresh(ctx context.Context) {
	t := time.NewTicker(stateRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.state.load(ctx, d.n.Store); err != nil && ctx.Err() == nil {
			d.n.log.Warn("reloading relationships and watchlist failed; keeping the previous ones", "err", err)
		}
	}
}

// DetectConfig is the engine configuration the cluster's engines start
// from (the default rules in the organization's time zone). One engine of
// this configuration, with the relationships and watchlist stored in
// PostgreSQL, over every event gives the cluster's alerts.
func DetectConfig(loc *time.Location) detect.Config {
	c := detect.DefaultConfig()
	c.Location = loc
	return c
}

// UnitConfig is the configuration of unit u's engine: the actor-keyed
// rules on an actor partition, the rules across actors on a cross
// partition (holding the sources and documents that hash to it).
func UnitConfig(base detect.Config, bus *natsbus.Bus, u int) detect.Config {
	c := base
	p, cross := bus.Unit(u)
	if !cross {
		c.Part = detect.PartActor
		return c
	}
	n := bus.Partitions()
	c.Part = detect.PartCross
	c.OwnsSource = func(ip string) bool { return natsbus.Partition(ip, n) == p }
	c.OwnsDocument = func(h string) bool { return natsbus.Partition(h, n) == p }
	return c
}

func (d *detector) setOwned(ps []int) {
	d.n.metrics.mu.Lock()
	d.n.metrics.owned = len(ps)
	d.n.metrics.mu.Unlock()
}

// SnapshotName is the name of a unit's snapshot in the store
// ("detect/p3", "detect/x3": see natsbus.Bus.UnitName).
func SnapshotName(unit string) string { return "detect/" + unit }

// partitionState is what a partition's snapshot holds: the engine's state
// and the ids of the last events seen (to drop a duplicate the stream let
// through after its dedup window).
type partitionState struct {
	Engine []byte
	Seen   []string
}

const seenCap = 1 << 16

// seen is a bounded set of recent event ids, oldest evicted first.
type seen struct {
	set  map[string]struct{}
	ring []string
	pos  int
}

func newSeen(ids []string) *seen {
	s := &seen{set: make(map[string]struct{}, len(ids))}
	for _, id := range ids {
		s.add(id)
	}
	return s
}

// add reports whether id is new, remembering it.
func (s *seen) add(id string) bool {
	if _, ok := s.set[id]; ok {
		return false
	}
	if len(s.ring) < seenCap {
		s.ring = append(s.ring, id)
	} else {
		delete(s.set, s.ring[s.pos])
		s.ring[s.pos] = id
		s.pos = (s.pos + 1) % seenCap
	}
	s.set[id] = struct{}{}
	return true
}

// ids returns the remembered ids, oldest first.
func (s *seen) ids() []string {
	return append(slices.Clone(s.ring[s.pos:]), s.ring[:s.pos]...)
}

// work owns unit p (an actor or a cross partition) until ctx ends:
// restore the snapshot, read the stream from the position it covers,
// index (actor partitions: every event is in exactly one), analyse, store
// alerts, snapshot now and then and once more when giving the unit up.
func (d *detector) work(ctx context.Context, p int) error {
	st := d.n.Store
	name := d.n.Bus.UnitName(p)
	_, cross := d.n.Bus.Unit(p)
	eng := d.state.newEngine(UnitConfig(d.cfg, d.n.Bus, p))
	defer d.state.release(eng)
	pos, data, ok, err := st.LoadSnapshot(ctx, SnapshotName(name))
	if err != nil {
		return err
	}
	var ps partitionState
	if ok {
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&ps); err != nil {
			return fmt.Errorf("partition %s: decode snapshot: %w", name, err)
		}
		if err := eng.Restore(bytes.NewReader(ps.Engine)); err != nil {
			return fmt.Errorf("partition %s: restore engine: %w", name, err)
		}
	}
	ids := newSeen(ps.Seen)
	d.n.log.Info("partition resumed", "partition", name, "from", pos, "snapshot", ok)
	covered, saved := pos, pos
	lastSave := time.Now()
	save := func(ctx context.Context) error {
		if covered == saved {
			return nil
		}
		var eb bytes.Buffer
		if err := eng.Snapshot(&eb); err != nil {
			return fmt.Errorf("partition %s: snapshot: %w", name, err)
		}
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(partitionState{Engine: eb.Bytes(), Seen: ids.ids()}); err != nil {
			return fmt.Errorf("partition %s: snapshot: %w", name, err)
		}
		if err := st.SaveSnapshot(ctx, SnapshotName(name), covered, b.Bytes()); err != nil {
			return err
		}
		d.n.metrics.snapshots.Inc()
		saved, lastSave = covered, time.Now()
		return nil
	}

	err = d.n.Bus.Read(ctx, p, pos, natsbus.ReadOptions{Lag: func(n uint64) { d.n.metrics.setLag(name, n) }},
		func(ctx context.Context, msgs []natsbus.Message) error {
			var acc []custos.AccessEvent
			var logins []custos.LoginEvent
			for _, m := range msgs {
				if m.Access != nil {
					acc = append(acc, *m.Access)
				} else {
					logins = append(logins, *m.Login)
				}
			}
			// Index first: the store is idempotent by id, so a batch
			// handled again after a crash is stored once. Cross
			// partitions hold copies; the actor partition indexes.
			if !cross {
				if _, err := st.AppendAccess(ctx, acc); err != nil {
					return err
				}
				if _, err := st.AppendLogins(ctx, logins); err != nil {
					return err
				}
			}
			var alerts []detect.Alert
			for _, m := range msgs {
				if m.Access != nil {
					if ids.add("a:" + m.Access.ID) {
						alerts = append(alerts, eng.ProcessAccess(m.Access)...)
					}
				} else if ids.add("l:" + m.Login.ID) {
					alerts = append(alerts, eng.ProcessLogin(m.Login)...)
				}
			}
			if err := st.UpsertAlerts(ctx, detect.Records(alerts)); err != nil {
				return err
			}
			if err := d.respond(ctx, alerts); err != nil {
				return err
			}
			family := "actor"
			if cross {
				family = "cross"
			}
			d.n.metrics.processed.WithLabelValues("access", family).Add(float64(len(acc)))
			d.n.metrics.processed.WithLabelValues("login", family).Add(float64(len(logins)))
			covered = msgs[len(msgs)-1].Seq
			if time.Since(lastSave) >= d.interval {
				return save(ctx)
			}
			return nil
		})
	// Hand over (or shut down) with a fresh snapshot, so the next owner
	// re-reads as little as possible.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := save(sctx); serr != nil {
		d.n.log.Warn("partition snapshot at hand-over failed; the next owner re-reads more", "partition", name, "err", serr)
	}
	return err
}

// respond records each alerted actor's risk (for the HTTP gateways'
// step-up), suspends the actors of alerts whose rule is in
// alerts.suspend_rules, and puts those of alerts.approval_rules under
// review for server.ReviewFor; gateway nodes pick all three up within
// suspensionRefresh. Stored before the partition's position moves on, so a
// crash repeats it (idempotent) rather than losing it.
func (d *detector) respond(ctx context.Context, alerts []detect.Alert) error {
	for _, a := range alerts {
		if a.Actor == nil {
			continue
		}
		// The HTTP gateways' step-up reads the actor's latest risk.
		if err := d.n.Store.SetActorRisk(ctx, *a.Actor, a.Risk, time.Now()); err != nil {
			return err
		}
		if slices.Contains(d.review, a.Rule) {
			now := time.Now()
			until := now.Add(server.ReviewFor)
			fresh, err := d.n.Store.ReviewActor(ctx, *a.Actor, until, a.ID, a.Rule, now)
			if err != nil {
				return err
			}
			if fresh {
				d.n.audit(ctx, "custos", "actor.review", *a.Actor, map[string]string{"alert": a.ID, "rule": a.Rule, "until": until.UTC().Format(time.RFC3339)})
			}
		}
		if !slices.Contains(d.suspend, a.Rule) {
			continue
		}
		reason := "automatic response to alert " + a.ID + " (" + a.Rule + ")"
		fresh, err := d.n.Store.SuspendActor(ctx, *a.Actor, "custos", reason, time.Now())
		if err != nil {
			return err
		}
		if !fresh {
			continue // suspended already (an incident's alert is reported again as it grows)
		}
		d.n.audit(ctx, "custos", "actor.suspended", *a.Actor, map[string]string{"alert": a.ID, "rule": a.Rule})
		d.n.log.Warn("actor suspended by automatic response", "actor", *a.Actor, "alert", a.ID, "rule", a.Rule)
	}
	return nil
}
