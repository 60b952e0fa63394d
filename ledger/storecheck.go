package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/custos-dev/custos"
)

// storeCursor walks the event store alongside the ledger, one cursor per
// kind, so Verify can name the first entry that is not the store's event.
type storeCursor struct {
	src   Source
	keys  *subjectKeys // nil: the ledger does not seal subjects
	kinds map[string]*kindCursor
	// shredded counts entries not compared because a subject's key was
	// erased.
	shredded int
}

type kindCursor struct {
	last int64
	buf  []Record
}

func newStoreCursor(src Source, keys *subjectKeys) *storeCursor {
	kinds := map[string]*kindCursor{KindAccess: {}, KindLogin: {}}
	if _, ok := src.(AuditSource); ok {
		kinds[KindAudit] = &kindCursor{}
	}
	return &storeCursor{src: src, keys: keys, kinds: kinds}
}

func (c *storeCursor) fetch(ctx context.Context, kind string, k *kindCursor) error {
	const batch = 4096
	switch kind {
	case KindAccess:
		es, err := c.src.AccessSince(ctx, k.last, batch)
		if err != nil {
			return fmt.Errorf("ledger: verify: read store: %w", err)
		}
		for _, e := range es {
			var r Record
			if c.keys != nil && e.Seq >= c.keys.from {
				r, err = c.keys.sealedAccessRecord(ctx, e)
				if err == nil && hasErased(e.Subjects) {
					// The store no longer knows the subject the entry sealed.
					err = ErrShredded
				}
				if errors.Is(err, ErrShredded) {
					// Known by its place only: content not comparable.
					r, err = Record{Kind: KindAccess, ID: e.ID, Seq: e.Seq}, nil
				}
			} else {
				r, err = AccessRecord(e)
			}
			if err != nil {
				return err
			}
			k.buf = append(k.buf, r)
		}
	case KindLogin:
		es, err := c.src.LoginsSince(ctx, k.last, batch)
		if err != nil {
			return fmt.Errorf("ledger: verify: read store: %w", err)
		}
		for _, e := range es {
			r, err := LoginRecord(e)
			if err != nil {
				return err
			}
			k.buf = append(k.buf, r)
		}
	case KindAudit:
		es, err := c.src.(AuditSource).AuditSince(ctx, k.last, batch)
		if err != nil {
			return fmt.Errorf("ledger: verify: read store: %w", err)
		}
		for _, e := range es {
			r, err := AuditRecord(e)
			if err != nil {
				return err
			}
			k.buf = append(k.buf, r)
		}
	}
	return nil
}

// check compares one entry with the store and returns a description of
// the difference, or "" if the entry is the store's next event of its
// kind.
func (c *storeCursor) check(ctx context.Context, h recordHead, entry []byte) (string, error) {
	k, ok := c.kinds[h.Kind]
	if !ok || h.Seq == 0 {
		return "", nil // not a store event
	}
	if len(k.buf) == 0 {
		if err := c.fetch(ctx, h.Kind, k); err != nil {
			return "", err
		}
	}
	if len(k.buf) == 0 {
		return fmt.Sprintf("entry is %s seq %d (id %s), which the event store does not have", h.Kind, h.Seq, h.ID), nil
	}
	want := k.buf[0]
	switch {
	case want.Seq < h.Seq:
		return fmt.Sprintf("the event store's %s seq %d (id %s) is missing from the ledger here", h.Kind, want.Seq, want.ID), nil
	case want.Seq > h.Seq:
		return fmt.Sprintf("entry is %s seq %d (id %s), which the event store does not have here (next stored is seq %d)", h.Kind, h.Seq, h.ID, want.Seq), nil
	}
	if want.Event == nil {
		c.shredded++
		k.last = want.Seq
		k.buf = k.buf[1:]
		return "", nil
	}
	enc, err := want.Encode()
	if err != nil {
		return "", err
	}
	if !bytes.Equal(enc, entry) {
		return fmt.Sprintf("entry differs from the event store's %s seq %d (id %s)", h.Kind, want.Seq, want.ID), nil
	}
	k.last = want.Seq
	k.buf = k.buf[1:]
	return "", nil
}

// missingAfter reports stored events the ledger does not have yet: lag,
// not tampering, so it is a note.
func (c *storeCursor) missingAfter(ctx context.Context) (string, error) {
	n := 0
	for kind, k := range c.kinds {
		if len(k.buf) == 0 {
			if err := c.fetch(ctx, kind, k); err != nil {
				return "", err
			}
		}
		n += len(k.buf)
	}
	if n == 0 {
		return "", nil
	}
	return fmt.Sprintf("the event store holds at least %d events the ledger has not appended yet (lag)", n), nil
}

func hasErased(subjects []custos.Subject) bool {
	for _, s := range subjects {
		if s.Hash == custos.ErasedHash {
			return true
		}
	}
	return false
}
