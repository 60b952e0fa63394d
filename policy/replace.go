package policy

// Replace makes rs the whole table, in one step: a reader sees the old
// table or the new one, never a mix. A cluster's gateway nodes reload the
// table this way from the shared store.
func (s *Relationships) Replace(rs []Relationship) {
	m := make(map[relKey]int64, len(rs))
	for _, r := range rs {
		var exp int64
		if !r.Expires.IsZero() && r.Expires.Year() < 2262 {
			exp = r.Expires.UnixNano()
		}
		m[relKey{r.Actor, r.Subject, r.Kind}] = exp
	}
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

// Replace makes entries the whole list, in one step (see
// Relationships.Replace). An unknown kind leaves the list as it was.
func (w *Watchlist) Replace(entries []WatchEntry) error {
	next := NewWatchlist()
	if err := next.Set(entries...); err != nil {
		return err
	}
	w.mu.Lock()
	w.m = next.m
	w.mu.Unlock()
	return nil
}
