package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// AuditSource is a Source that also keeps audit events (approval steps,
// policy and watchlist changes, console actions); the follower appends
// them too when its source has them.
type AuditSource interface {
	AuditSince(ctx context.Context, seq int64, limit int) ([]custos.StoredAudit, error)
}

// AuditRecord is the ledger record of a stored audit event.
func AuditRecord(e custos.StoredAudit) (Record, error) {
	b, err := json.Marshal(e.AuditEvent)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: encode audit %s: %w", e.ID, err)
	}
	return Record{Kind: KindAudit, ID: e.ID, Seq: e.Seq, Event: b}, nil
}

// positions are the last store sequence numbers of each kind in a batch.
type positions struct{ access, login, audit int64 }

func (l *Ledger) positions() positions {
	return positions{l.accessSeq.Load(), l.loginSeq.Load(), l.auditSeq.Load()}
}

func (l *Ledger) advance(p positions) {
	l.accessSeq.Store(p.access)
	l.loginSeq.Store(p.login)
	l.auditSeq.Store(p.audit)
}

// AccessRecord is the ledger record of a stored access event.
func AccessRecord(e custos.StoredAccess) (Record, error) {
	if !e.Sealed() {
		return Record{}, fmt.Errorf("ledger: access %s: %w", e.ID, custos.ErrUnsealed)
	}
	b, err := json.Marshal(e.AccessEvent)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: encode access %s: %w", e.ID, err)
	}
	if len(b) > maxEventBytes {
		if b, err = digestSubjects(e.AccessEvent, e.Subjects); err != nil {
			return Record{}, fmt.Errorf("ledger: encode access %s: %w", e.ID, err)
		}
	}
	return Record{Kind: KindAccess, ID: e.ID, Seq: e.Seq, Event: b}, nil
}

// maxEventBytes bounds an event's encoding in an entry: Tessera refuses
// entries over 64 KiB, and a query returning thousands of people makes an
// event larger than that.
const maxEventBytes = 60 << 10

// digestedAccess is an access event whose subject list is too large for
// one entry: the entry commits to the list by its SHA-256 and count, and
// the list itself stays in the event store, where verify --store checks
// it against the digest.
type digestedAccess struct {
	custos.AccessEvent
	Subjects       []custos.Subject `json:"subjects,omitempty"` // shadows the event's own: left empty
	SubjectsDigest subjectsDigest   `json:"subjects_digest"`
}

type subjectsDigest struct {
	Count  int    `json:"count"`
	SHA256 string `json:"sha256"` // of the JSON array of the subjects as the entry would have held them
}

// digestSubjects encodes e with subjects (plain or sealed) replaced by
// their digest.
func digestSubjects[S any](e custos.AccessEvent, subjects []S) ([]byte, error) {
	list, err := json.Marshal(subjects)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(list)
	b, err := json.Marshal(digestedAccess{AccessEvent: e, SubjectsDigest: subjectsDigest{Count: len(subjects), SHA256: hex.EncodeToString(sum[:])}})
	if err != nil {
		return nil, err
	}
	if len(b) > maxEventBytes {
		return nil, fmt.Errorf("%d bytes even without its subject list (limit %d)", len(b), maxEventBytes)
	}
	return b, nil
}

// accessRecord is the record of a stored access event as this ledger
// writes it: subjects sealed under their data keys from the sequence
// number where sealing began, plain before.
func (l *Ledger) accessRecord(ctx context.Context, e custos.StoredAccess) (Record, error) {
	if l.keys != nil && e.Seq >= l.keys.from {
		return l.keys.sealedAccessRecord(ctx, e)
	}
	return AccessRecord(e)
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
	read := l.positions()
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
		recs, last, err := l.readBatch(ctx, src, read, FollowBatch)
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
		read = last
		inflight = func() error {
			if _, err := wait(); err != nil {
				return err
			}
			l.advance(last)
			return nil
		}
	}
}

// readBatch reads up to limit events of each kind after the given
// positions and returns their records and the new positions.
func (l *Ledger) readBatch(ctx context.Context, src Source, pos positions, limit int) ([]Record, positions, error) {
	accesses, err := src.AccessSince(ctx, pos.access, limit)
	if err != nil {
		return nil, pos, fmt.Errorf("ledger: read accesses: %w", err)
	}
	logins, err := src.LoginsSince(ctx, pos.login, limit)
	if err != nil {
		return nil, pos, fmt.Errorf("ledger: read logins: %w", err)
	}
	var audits []custos.StoredAudit
	if as, ok := src.(AuditSource); ok {
		if audits, err = as.AuditSince(ctx, pos.audit, limit); err != nil {
			return nil, pos, fmt.Errorf("ledger: read audit events: %w", err)
		}
	}
	if l.keys != nil {
		var hashes []string
		for _, e := range accesses {
			if e.Seq >= l.keys.from {
				for _, sub := range e.Subjects {
					hashes = append(hashes, sub.Hash)
				}
			}
		}
		// Durable before any entry sealed with them is appended.
		if err := l.keys.ensure(ctx, hashes); err != nil {
			return nil, pos, err
		}
	}
	recs := make([]Record, 0, len(accesses)+len(logins)+len(audits))
	for _, e := range accesses {
		r, err := l.accessRecord(ctx, e)
		if err != nil {
			return nil, pos, err
		}
		recs = append(recs, r)
		pos.access = e.Seq
	}
	for _, e := range logins {
		r, err := LoginRecord(e)
		if err != nil {
			return nil, pos, err
		}
		recs = append(recs, r)
		pos.login = e.Seq
	}
	for _, e := range audits {
		r, err := AuditRecord(e)
		if err != nil {
			return nil, pos, err
		}
		recs = append(recs, r)
		pos.audit = e.Seq
	}
	return recs, pos, nil
}

// CatchUp appends one batch (at most limit of each kind) of events that
// the store has and the ledger lacks, and returns how many it appended.
func (l *Ledger) CatchUp(ctx context.Context, src Source, limit int) (int, error) {
	recs, last, err := l.readBatch(ctx, src, l.positions(), limit)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	if _, err := l.Append(ctx, recs); err != nil {
		return 0, err
	}
	l.advance(last)
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
	PendingAudit      int           // stored audit events not yet in the ledger
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
	if as, ok := src.(AuditSource); ok {
		audits, err := as.AuditSince(ctx, l.auditSeq.Load(), limit)
		if err != nil {
			return lag, fmt.Errorf("ledger: lag: %w", err)
		}
		lag.PendingAudit = len(audits)
	}
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
