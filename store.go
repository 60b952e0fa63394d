package custos

import (
	"context"
	"errors"
	"time"
)

// EventStore keeps events durably and answers history questions. It is the
// contract of store/sqlite (embedded) and store/postgres (scale-out); both
// run the same conformance suite (store/storetest).
//
// Implementations MUST:
//   - make every event of a successful Append durable (on disk, fsync'd)
//     before returning;
//   - be idempotent by event ID: appending an ID that is already stored
//     changes nothing and counts as a duplicate;
//   - reject events that are not Sealed (a raw subject value) with
//     ErrUnsealed and store nothing of that call;
//   - assign each newly stored event a sequence number, increasing in
//     append order, that Since can resume from.
type EventStore interface {
	AppendAccess(ctx context.Context, events []AccessEvent) (AppendResult, error)
	AppendLogins(ctx context.Context, events []LoginEvent) (AppendResult, error)

	// SubjectAccesses returns accesses that touched the subject with the
	// given type and blind-index hash, newest first.
	SubjectAccesses(ctx context.Context, subjectType, hash string, q Query) ([]StoredAccess, error)
	// ActorAccesses returns an actor's accesses, newest first.
	ActorAccesses(ctx context.Context, actorID string, q Query) ([]StoredAccess, error)
	// ResourceAccesses returns accesses to a system (and object, if not
	// empty), newest first.
	ResourceAccesses(ctx context.Context, system, object string, q Query) ([]StoredAccess, error)
	// AccountLogins returns an account's logins, newest first.
	AccountLogins(ctx context.Context, account string, q Query) ([]StoredLogin, error)
	// SourceLogins returns the logins from one source IP address, newest
	// first: what a credential-stuffing source tried, across accounts.
	SourceLogins(ctx context.Context, ip string, q Query) ([]StoredLogin, error)

	// AccessSince returns up to limit accesses with a sequence number
	// greater than seq, in sequence order. Consumers resume from it.
	AccessSince(ctx context.Context, seq int64, limit int) ([]StoredAccess, error)
	// LoginsSince is AccessSince for logins.
	LoginsSince(ctx context.Context, seq int64, limit int) ([]StoredLogin, error)
	// Offset and SetOffset keep a named consumer's position durably.
	Offset(ctx context.Context, consumer string) (int64, error)
	SetOffset(ctx context.Context, consumer string, seq int64) error

	Close() error
}

// AppendResult counts what an Append did.
type AppendResult struct {
	Stored     int // newly stored events
	Duplicates int // events whose ID was already stored
}

// StoredAccess is an access event with its store sequence number.
type StoredAccess struct {
	Seq int64 `json:"seq"`
	AccessEvent
}

// StoredLogin is a login event with its store sequence number.
type StoredLogin struct {
	Seq int64 `json:"seq"`
	LoginEvent
}

// Query bounds a history query. Zero From/To mean unbounded; Limit 0 means
// DefaultLimit. Before, when not zero, pages backwards: only events with a
// sequence number lower than Before are returned.
type Query struct {
	From   time.Time
	To     time.Time
	Limit  int
	Before int64
}

// DefaultLimit and MaxLimit bound history queries.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// ErrUnsealed is returned when an event with a raw subject value reaches a
// store or bus.
var ErrUnsealed = errors.New("event carries a raw subject value; blind-index it first")

// ErrNotFound is wrapped by stores when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")
