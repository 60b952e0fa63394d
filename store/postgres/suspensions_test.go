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
	s, err := Open(context.Background(), freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
