package policy

import (
	"fmt"
	"log/slog"
	"sync/atomic"
)

// Holder keeps the active policy and swaps in a new one only when it
// compiles completely: a rejected reload leaves the last good policy in
// force and is logged. Safe for concurrent use; Policy is one atomic load.
type Holder struct {
	cur  atomic.Pointer[Policy]
	opts Options
	log  *slog.Logger
}

// NewHolder loads the policy at path; it fails if the first policy does
// not load (there is no last good one to fall back to).
func NewHolder(path string, opts Options, log *slog.Logger) (*Holder, error) {
	p, err := Load(path, opts)
	if err != nil {
		return nil, err
	}
	return NewHolderWith(p, opts, log), nil
}

// NewHolderWith starts a Holder with an already compiled policy.
func NewHolderWith(p *Policy, opts Options, log *slog.Logger) *Holder {
	if log == nil {
		log = slog.Default()
	}
	h := &Holder{opts: opts, log: log}
	h.cur.Store(p)
	return h
}

// Policy returns the active policy.
func (h *Holder) Policy() *Policy { return h.cur.Load() }

// Reload compiles the policy at path and makes it active. On any error the
// active policy stays, the rejection is logged with every problem, and the
// error is returned.
func (h *Holder) Reload(path string) error {
	p, err := Load(path, h.opts)
	if err != nil {
		old := h.cur.Load()
		h.log.Error("policy reload rejected; keeping the last good policy",
			"file", path, "active", old.Name(), "active_loaded", old.Loaded(), "err", err)
		return fmt.Errorf("policy: reload %s rejected: %w", path, err)
	}
	h.cur.Store(p)
	h.log.Info("policy loaded", "file", path, "name", p.Name(), "rules", len(p.rules))
	return nil
}
