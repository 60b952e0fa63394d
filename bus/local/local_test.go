package local_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/bus/local"
	"github.com/custos-dev/custos/store/sqlite"
)

func sealed(id string) custos.AccessEvent {
	return custos.AccessEvent{
		ID: id, Time: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		Actor: custos.Actor{ID: "emp-1"}, Channel: custos.ChannelIngest, Action: custos.ActionRead,
		Resource: custos.Resource{System: "pss"}, Decision: custos.DecisionAllow, Outcome: custos.OutcomeSuccess,
		Subjects: []custos.Subject{{Type: "cn_id", Hash: "ab"}},
	}
}

// recorder is a consumer that fails its first delivery and records every
// event id it sees, to check at-least-once delivery and resumption.
type recorder struct {
	mu       sync.Mutex
	seen     map[string]int
	failures int
}

func (r *recorder) handle(ctx context.Context, evs []custos.StoredAccess) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return errors.New("consumer not ready")
	}
	for _, e := range evs {
		r.seen[e.ID]++
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func TestAtLeastOnceAndResume(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var evs []custos.AccessEvent
	for i := range 250 {
		evs = append(evs, sealed(fmt.Sprintf("e-%d", i)))
	}
	if _, err := st.AppendAccess(ctx, evs); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{seen: map[string]int{}, failures: 2}
	b := local.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.BatchSize = 100
	b.Retry = 10 * time.Millisecond
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.Run(runCtx, local.Consumer{Name: "rec", Access: rec.handle}); close(done) }()
	waitFor(t, func() bool { return rec.count() == 250 })

	// New events reach the consumer on Notify, without waiting for a poll.
	if _, err := st.AppendAccess(ctx, []custos.AccessEvent{sealed("late")}); err != nil {
		t.Fatal(err)
	}
	b.Notify()
	waitFor(t, func() bool { return rec.count() == 251 })
	cancel()
	<-done
	st.Close()

	// After a restart the consumer resumes from its offset: old events
	// are not delivered again, new ones are.
	st, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AppendAccess(ctx, []custos.AccessEvent{sealed("after-restart")}); err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{seen: map[string]int{}}
	b2 := local.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runCtx, cancel = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { b2.Run(runCtx, local.Consumer{Name: "rec", Access: rec2.handle}); close(done) }()
	waitFor(t, func() bool { return rec2.count() == 1 })
	cancel()
	<-done
	if rec2.seen["after-restart"] != 1 {
		t.Errorf("after restart got %v", rec2.seen)
	}
	for id, n := range rec.seen {
		if n != 1 {
			t.Errorf("%s delivered %d times to a consumer that succeeded once", id, n)
		}
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
