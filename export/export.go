package export

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
)

// Export is one registered export of personal data to one recipient.
//
// Subjects and Canaries are sealed (type and blind-index hash, optionally
// a masked form): an Export never carries a raw identifier.
type Export struct {
	ID      string         `json:"id"`
	Actor   string         `json:"actor"`
	Time    time.Time      `json:"time"`
	Purpose custos.Purpose `json:"purpose,omitzero"`
	Channel custos.Channel `json:"channel"`
	System  string         `json:"system"`
	// Format is the file or wire format: csv, xlsx, json, copy, rows.
	Format string   `json:"format"`
	Fields []string `json:"fields,omitempty"`
	// Rows is how many rows were exported, canaries included.
	Rows int `json:"rows"`
	// Subjects are the real data subjects in the export.
	Subjects []custos.Subject `json:"subjects,omitempty"`
	// Canaries are the identifiers of the synthetic canary records
	// planted in this export (each canary person has one or more).
	Canaries []custos.Subject `json:"canaries,omitempty"`
	// Watermark says which meaning-preserving marks were applied. The
	// key they were applied with is derived from the organization's key
	// and ID (see Keyer), never stored.
	Watermark Watermark `json:"watermark,omitzero"`
	// EventID is the access event that recorded the export, if any.
	EventID string `json:"event_id,omitempty"`
}

// Watermark lists the marks applied to an export.
type Watermark struct {
	// Order is true when rows were put in the export's keyed order.
	Order bool `json:"order,omitempty"`
	// Variants are the formatting variants applied (VariantPhone, ...).
	Variants []Variant `json:"variants,omitempty"`
}

// Validate checks what a registry needs: an ID, an actor, a time and
// sealed subjects.
func (e *Export) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("export: id is required")
	case len(e.ID) > 200:
		return errors.New("export: id is longer than 200 bytes")
	case e.Actor == "":
		return errors.New("export: actor is required")
	case e.Time.IsZero():
		return errors.New("export: time is required")
	}
	for name, subs := range map[string][]custos.Subject{"subjects": e.Subjects, "canaries": e.Canaries} {
		for i, s := range subs {
			if s.Value != "" || s.Hash == "" || s.Type == "" {
				return fmt.Errorf("export: %s[%d]: %w", name, i, custos.ErrUnsealed)
			}
		}
	}
	for _, v := range e.Watermark.Variants {
		if !v.Known() {
			return fmt.Errorf("export: unknown watermark variant %q", v)
		}
	}
	return nil
}

// Query bounds a listing of exports. Zero values mean unbounded; Limit 0
// means custos.DefaultLimit.
type Query struct {
	Actor string
	From  time.Time
	To    time.Time
	Limit int
}

// Registry records exports and answers which exports hold a subject. The
// embedded implementation is store/sqlite.Store.
//
// Implementations MUST make RegisterExport durable before returning, be
// idempotent by export ID (registering an ID again changes nothing) and
// return an error wrapping custos.ErrNotFound from Export for an unknown ID.
type Registry interface {
	RegisterExport(ctx context.Context, e Export) error
	Export(ctx context.Context, id string) (Export, error)
	ListExports(ctx context.Context, q Query) ([]Export, error)
	// ExportsBySubject returns the exports holding the subject (as a
	// real subject or as a canary), newest first, without their subject
	// lists.
	ExportsBySubject(ctx context.Context, subjectType, hash string) ([]Export, error)
}

// Key is the compact key of a subject in the registry and access indexes:
// the first 16 bytes of SHA-256 over its type, a zero byte and its
// blind-index hash. It is the same key store/sqlite uses for its subject
// index, so batch look-ups need no second hashing.
type Key [16]byte

// KeyOf returns the Key of a blind-indexed subject.
func KeyOf(subjectType, hash string) Key {
	h := sha256.New()
	h.Write([]byte(subjectType))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	var sum [sha256.Size]byte
	var k Key
	copy(k[:], h.Sum(sum[:0]))
	return k
}

// Sighting is one entry of the access index: an access event (by store
// sequence number) by an actor at a time that touched a subject.
type Sighting struct {
	Seq   int64
	Time  time.Time
	Actor string
}
