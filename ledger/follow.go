package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
)

// Source is the part of the event store the follower reads: events after
// a sequence number, in sequence order. custos.EventStore satisfies it.
type Source interface {
	AccessSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAccess, error)
	LoginsSince(ctx context.Context, seq int64, limit int) ([]custos.StoredLogin, error)
}

var _ Source = (custos.EventStore)(nil)

// AccessRecord is the ledger record of a stored access event.
func AccessRecord(e custos.StoredAccess) (Record, error) {
	if !e.Sealed() {
		return Record{}, fmt.Errorf("ledger: access %s: %w", e.ID, custos.ErrUnsealed)
	}
	b, err := json.Marshal(e.AccessEvent)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: encode access %s: %w", e.ID, err)
	}
	return Record{Kind: KindAccess, ID: e.ID, Seq: e.Seq, Event: b}, nil
}

// LoginRecord is the ledger record of a stored login event.
func LoginRecord(e custos.StoredLogin) (Record, error) {
	b, err := json.Marshal(e.LoginEvent)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: encode login %s: %w", e.ID, err)
	}
	return Record{Kind: KindLogin, ID: e.ID, Seq: e.Seq, Event: b}, nil
}

// FollowBatch is how many events the follower reads from the store at a
// time.
const FollowBatch = 8192

// Follow appends every event the store holds beyond what the ledger has,
// in store sequence order, until ctx is done. It resumes from the highest
// sequence numbers in the ledger itself, not from a separate offset, so a
// crash between the durable append and any bookkeeping neither skips nor
// repeats an event. It polls the store every poll (default 50ms) when
// caught up.
func (l *Ledger) Follow(ctx context.Context, src Source, poll time.Duration) error {
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	// One batch is written while the next is read from the store.
	readAccess, readLogin := l.accessSeq.Load(), l.loginSeq.Load()
	var inflight func() error
	finish := func() error {
		if inflight == nil {
			return nil
		}
		err := inflight()
		inflight = nil
		return err
	}
	defer finish()
	for {
		recs, lastAccess, lastLogin, err := l.readBatch(ctx, src, readAccess, readLogin, FollowBatch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(recs) == 0 {
			if err := finish(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(poll):
			}
			continue
		}
		wait, err := l.appendAsync(ctx, recs)
		if err != nil {
			return err
		}
		if err := finish(); err != nil {
			return err
		}
		readAccess, readLogin = lastAccess, lastLogin
		inflight = func() error {
			if _, err := wait(); err != nil {
				return err
			}
			l.accessSeq.Store(lastAccess)
			l.loginSeq.Store(lastLogin)
			return nil
		}
	}
}

// readBatch reads up to limit accesses and limit logins after the given
// positions and returns their records and the new positions.
func (l *Ledger) readBatch(ctx context.Context, src Source, accessSeq, loginSeq int64, limit int) ([]Record, int64, int64, error) {
	accesses, err := src.AccessSince(ctx, accessSeq, limit)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("ledger: read accesses: %w", err)
	}
	logins, err := src.LoginsSince(ctx, loginSeq, limit)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("ledger: read logins: %w", err)
	}
	recs := make([]Record, 0, len(accesses)+len(logins))
	for _, e := range accesses {
		r, err := AccessRecord(e)
		if err != nil {
			return nil, 0, 0, err
		}
		recs = append(recs, r)
		accessSeq = e.Seq
	}
	for _, e := range logins {
		r, err := LoginRecord(e)
		if err != nil {
			return nil, 0, 0, err
		}
		recs = append(recs, r)
		loginSeq = e.Seq
	}
	return recs, accessSeq, loginSeq, nil
}

// CatchUp appends one batch (at most limit) of accesses and one of logins
// that the store has and the ledger lacks, and returns how many it
// appended.
func (l *Ledger) CatchUp(ctx context.Context, src Source, limit int) (int, error) {
	recs, lastAccess, lastLogin, err := l.readBatch(ctx, src, l.accessSeq.Load(), l.loginSeq.Load(), limit)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	if _, err := l.Append(ctx, recs); err != nil {
		return 0, err
	}
	l.accessSeq.Store(lastAccess)
	l.loginSeq.Store(lastLogin)
	return len(recs), nil
}

// Lag is the gap between the event store and the ledger: events stored
// but not yet appended. Pending counts stop at the limit given to
// MeasureLag.
type Lag struct {
	AccessSeq         int64         // last access sequence number in the ledger
	LoginSeq          int64         // last login sequence number in the ledger
	PendingAccess     int           // stored accesses not yet in the ledger
	PendingLogins     int           // stored logins not yet in the ledger
	OldestPending     time.Duration // age of the oldest pending event (by event time), 0 if none
	WitnessedSize     uint64        // size of the last checkpoint the witness cosigned
	AppendedSinceOpen uint64
}

// MeasureLag asks the store how far ahead of the ledger it is.
func (l *Ledger) MeasureLag(ctx context.Context, src Source, limit int) (Lag, error) {
	lag := Lag{AccessSeq: l.accessSeq.Load(), LoginSeq: l.loginSeq.Load(), WitnessedSize: l.witnessed.Load(), AppendedSinceOpen: l.appended.Load()}
	accesses, err := src.AccessSince(ctx, lag.AccessSeq, limit)
	if err != nil {
		return lag, fmt.Errorf("ledger: lag: %w", err)
	}
	logins, err := src.LoginsSince(ctx, lag.LoginSeq, limit)
	if err != nil {
		return lag, fmt.Errorf("ledger: lag: %w", err)
	}
	lag.PendingAccess, lag.PendingLogins = len(accesses), len(logins)
	var oldest time.Time
	if len(accesses) > 0 {
		oldest = accesses[0].Time
	}
	if len(logins) > 0 && (oldest.IsZero() || logins[0].Time.Before(oldest)) {
		oldest = logins[0].Time
	}
	if !oldest.IsZero() {
		lag.OldestPending = max(time.Since(oldest), 0)
	}
	return lag, nil
}
