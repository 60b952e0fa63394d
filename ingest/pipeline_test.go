package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/store/sqlite"
)

// TestAccessSealed: events sealed by the caller are stored as they are
// (same hash and masked form as Access's own sealing gives), and every
// other field is still validated.
func TestAccessSealed(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	idx, _ := blind.New(make([]byte, 32))
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	p := &ingest.Pipeline{Store: st, Index: idx, Now: func() time.Time { return now }}
	event := func(id string) custos.AccessEvent {
		return custos.AccessEvent{ID: id, Time: now, Actor: custos.Actor{ID: "emp-1"}, Channel: custos.ChannelHTTP,
			Action: custos.ActionRead, Resource: custos.Resource{System: "pss"}, Decision: custos.DecisionMask,
			Outcome: custos.OutcomeSuccess, Records: 1,
			Subjects: []custos.Subject{{Type: "cn_id", Value: "11010119900307123X"}}}
	}
	// Access seals; its subject is what a trusted caller must supply.
	ref := []custos.AccessEvent{event("ref-1")}
	if _, err := p.Access(ctx, ref); err != nil {
		t.Fatal(err)
	}
	sealed := ref[0].Subjects[0]
	if sealed.Hash == "" || sealed.Masked == "" || sealed.Value != "" {
		t.Fatalf("reference subject %+v", sealed)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*custos.AccessEvent)
		field string // "" when the event is stored
	}{
		{"sealed", func(e *custos.AccessEvent) {}, ""},
		{"no subjects", func(e *custos.AccessEvent) { e.Subjects = nil }, ""},
		{"raw value", func(e *custos.AccessEvent) { e.Subjects[0].Value = "11010119900307123X" }, "subjects[0].value"},
		{"not a hash", func(e *custos.AccessEvent) { e.Subjects[0].Hash = "abc" }, "subjects[0].hash"},
		{"upper-case hash", func(e *custos.AccessEvent) { e.Subjects[0].Hash = strings.ToUpper(sealed.Hash) }, "subjects[0].hash"},
		{"no masked form", func(e *custos.AccessEvent) { e.Subjects[0].Masked = "" }, "subjects[0].masked"},
		{"bad type", func(e *custos.AccessEvent) { e.Subjects[0].Type = "CN ID" }, "subjects[0].type"},
		{"no actor", func(e *custos.AccessEvent) { e.Actor.ID = "" }, "actor.id"},
		{"future", func(e *custos.AccessEvent) { e.Time = now.Add(48 * time.Hour) }, "time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := event("sealed-" + strings.ReplaceAll(tc.name, " ", "-"))
			ev.Subjects = []custos.Subject{sealed}
			tc.edit(&ev)
			_, err := p.AccessSealed(ctx, []custos.AccessEvent{ev})
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				got, err := st.ActorAccesses(ctx, "emp-1", custos.Query{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range got {
					if g.ID == ev.ID {
						if len(g.Subjects) != len(ev.Subjects) || len(g.Subjects) > 0 && g.Subjects[0] != sealed {
							t.Errorf("stored subjects %+v, want %+v", g.Subjects, ev.Subjects)
						}
						return
					}
				}
				t.Fatalf("event %s not stored", ev.ID)
			}
			var be *ingest.BatchError
			if !errors.As(err, &be) || len(be.Errors) != 1 || be.Errors[0].Field != tc.field {
				t.Fatalf("got %v, want one error on %s", err, tc.field)
			}
		})
	}
}
