package postgres

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

func TestSuspensions(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for i, a := range []string{"emp-2", "emp-1", "emp-2"} { // a repeat is kept once
		fresh, err := s.SuspendActor(ctx, a, "custos", "automatic response to alert x", at)
		if err != nil || fresh != (i < 2) {
			t.Fatalf("suspend %s: %v, %v", a, fresh, err)
		}
	}
	got, err := s.SuspendedActors(ctx)
	if err != nil || !reflect.DeepEqual(got, []string{"emp-1", "emp-2"}) {
		t.Fatalf("suspended = %v, %v", got, err)
	}
	if err := s.LiftSuspension(ctx, "emp-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.LiftSuspension(ctx, "emp-1"); !errors.Is(err, custos.ErrNotFound) {
		t.Errorf("lifting twice: %v, want ErrNotFound", err)
	}
	if got, _ := s.SuspendedActors(ctx); !reflect.DeepEqual(got, []string{"emp-2"}) {
		t.Errorf("after lifting: %v", got)
	}
}

func TestReviews(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	if fresh, err := s.ReviewActor(ctx, "emp-1", now.Add(24*time.Hour), "a1", "bulk_absolute", now); err != nil || !fresh {
		t.Fatalf("first review: %v %v", fresh, err)
	}
	// While it runs, another alert does not restart it.
	if fresh, err := s.ReviewActor(ctx, "emp-1", now.Add(25*time.Hour), "a2", "bulk_absolute", now.Add(time.Hour)); err != nil || fresh {
		t.Fatalf("review during a review: %v %v", fresh, err)
	}
	got, err := s.ActorsUnderReview(ctx, now.Add(2*time.Hour))
	if err != nil || len(got) != 1 || !got["emp-1"].Equal(now.Add(24*time.Hour)) {
		t.Fatalf("under review: %v %v", got, err)
	}
	// After it ended, a new alert starts a new one.
	later := now.Add(30 * time.Hour)
	if got, _ := s.ActorsUnderReview(ctx, later); len(got) != 0 {
		t.Fatalf("review past its end: %v", got)
	}
	if fresh, err := s.ReviewActor(ctx, "emp-1", later.Add(24*time.Hour), "a3", "enumeration", later); err != nil || !fresh {
		t.Fatalf("review after the first ended: %v %v", fresh, err)
	}
}

func TestActorRisk(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		actor string
		risk  float64
		at    time.Time
	}{{"emp-1", 40, t0}, {"emp-2", 95, t0.Add(-20 * 24 * time.Hour)}, {"emp-1", 70, t0.Add(time.Hour)}} {
		if err := s.SetActorRisk(ctx, r.actor, r.risk, r.at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ActorRisks(ctx, t0.Add(-24*time.Hour))
	if err != nil || len(got) != 1 || got["emp-1"].Risk != 70 || !got["emp-1"].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("risks = %+v, %v (the latest per actor, old ones left out)", got, err)
	}
}
