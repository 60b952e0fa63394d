package postgres

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/custos-dev/custos/policy"
)

func TestRelationshipsAndWatchlist(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rels := []policy.Relationship{
		{Actor: "a1", Subject: "h1", Kind: "booking"},
		{Actor: "a1", Subject: "h2", Kind: "ticket", Expires: now.Add(time.Hour)},
		{Actor: "a2", Subject: "h1", Kind: "ticket", Expires: now.Add(-time.Hour)},
	}
	if err := s.AppendRelationships(ctx, rels, nil); err != nil {
		t.Fatal(err)
	}
	// A later expiry replaces the earlier; a removal deletes.
	if err := s.AppendRelationships(ctx, []policy.Relationship{{Actor: "a1", Subject: "h2", Kind: "ticket", Expires: now.Add(2 * time.Hour)}},
		[]policy.Relationship{{Actor: "a1", Subject: "h1", Kind: "booking"}}); err != nil {
		t.Fatal(err)
	}
	var got []policy.Relationship
	if err := s.Relationships(ctx, now, func(r policy.Relationship) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	want := []policy.Relationship{{Actor: "a1", Subject: "h2", Kind: "ticket", Expires: now.Add(2 * time.Hour)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("relationships = %+v, want %+v (expired ones left out)", got, want)
	}

	tests := []struct {
		set   []policy.WatchEntry
		unset []string
		want  []policy.WatchEntry
	}{
		{set: []policy.WatchEntry{{Subject: "h1", Kind: policy.WatchAlert, Note: "vip"}, {Subject: "h9", Kind: policy.WatchHoneytoken}},
			want: []policy.WatchEntry{{Subject: "h1", Kind: policy.WatchAlert, Note: "vip"}, {Subject: "h9", Kind: policy.WatchHoneytoken}}},
		// The stronger kind stays.
		{set: []policy.WatchEntry{{Subject: "h9", Kind: policy.WatchAlert}},
			want: []policy.WatchEntry{{Subject: "h1", Kind: policy.WatchAlert, Note: "vip"}, {Subject: "h9", Kind: policy.WatchHoneytoken}}},
		{unset: []string{"h1"}, want: []policy.WatchEntry{{Subject: "h9", Kind: policy.WatchHoneytoken}}},
	}
	for i, tc := range tests {
		if err := s.SaveWatchlist(ctx, tc.set, tc.unset); err != nil {
			t.Fatal(err)
		}
		got, err := s.Watchlist(ctx)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: watchlist = %+v, %v; want %+v", i, got, err, tc.want)
		}
	}
}
