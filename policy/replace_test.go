package policy

import "testing"

func TestReplace(t *testing.T) {
	w := NewWatchlist()
	if err := w.Set(WatchEntry{Subject: "a", Kind: WatchAlert}, WatchEntry{Subject: "b", Kind: WatchHoneytoken}); err != nil {
		t.Fatal(err)
	}
	if err := w.Replace([]WatchEntry{{Subject: "b", Kind: WatchAlert}, {Subject: "c", Kind: WatchApproval}}); err != nil {
		t.Fatal(err)
	}
	for subject, want := range map[string]WatchKind{"a": "", "b": WatchAlert, "c": WatchApproval} {
		if got := w.Kind(subject); got != want {
			t.Errorf("watchlist %s = %q, want %q", subject, got, want)
		}
	}
	if err := w.Replace([]WatchEntry{{Subject: "d", Kind: "bogus"}}); err == nil || w.Kind("b") != WatchAlert {
		t.Errorf("a bad kind must leave the list as it was: err %v, b %q", err, w.Kind("b"))
	}

	r := NewRelationships()
	r.Add(Relationship{Actor: "emp-1", Subject: "s1", Kind: "booking"})
	r.Replace([]Relationship{{Actor: "emp-2", Subject: "s2", Kind: "booking"}})
	if r.HasRelationship("emp-1", "s1", "booking") || !r.HasRelationship("emp-2", "s2", "booking") || r.Len() != 1 {
		t.Errorf("relationships after Replace: len %d", r.Len())
	}
}
