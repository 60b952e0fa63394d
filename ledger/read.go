package ledger

import (
	"context"
	"fmt"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// entryError names the first entry that could not be read.
type entryError struct {
	Leaf uint64
	Err  error
}

func (e *entryError) Error() string { return fmt.Sprintf("entry %d: %v", e.Leaf, e.Err) }
func (e *entryError) Unwrap() error { return e.Err }

// forEachEntry calls fn for entries [from, to) of a log of the given size,
// reading whole bundles.
func forEachEntry(ctx context.Context, read func(ctx context.Context, index uint64, p uint8) ([]byte, error), from, to, size uint64, fn func(leaf uint64, data []byte) error) error {
	if from >= to {
		return nil
	}
	for b := from / layout.EntryBundleWidth; b*layout.EntryBundleWidth < to; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		first := b * layout.EntryBundleWidth
		raw, err := read(ctx, b, layout.PartialTileSize(0, b, size))
		if err != nil {
			return &entryError{Leaf: max(first, from), Err: fmt.Errorf("bundle %d unreadable: %w", b, err)}
		}
		var bundle api.EntryBundle
		if err := bundle.UnmarshalText(raw); err != nil {
			return &entryError{Leaf: max(first, from), Err: fmt.Errorf("bundle %d does not parse: %w", b, err)}
		}
		want := min(uint64(layout.EntryBundleWidth), size-first)
		if uint64(len(bundle.Entries)) < want {
			return &entryError{Leaf: first + uint64(len(bundle.Entries)), Err: fmt.Errorf("bundle %d holds %d entries, the tree has %d", b, len(bundle.Entries), want)}
		}
		for i, e := range bundle.Entries {
			leaf := first + uint64(i)
			if leaf < from {
				continue
			}
			if leaf >= to {
				break
			}
			if err := fn(leaf, e); err != nil {
				return err
			}
		}
	}
	return nil
}
