package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestConsoleSessions: create, read, touch, end one or all of a user's,
// and the user changes that end them with the change.
func TestConsoleSessions(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	mk := func(hash, user string, at time.Time) ConsoleSession {
		return ConsoleSession{TokenHash: hash, User: user, Role: "investigator", Source: "local", Created: at, Expires: at.Add(8 * time.Hour)}
	}
	cases := []struct {
		name string
		// act changes the store after sessions a (user ines), b (ines) and
		// c (otto) exist; gone lists those that must then be missing.
		act  func(t *testing.T, s *Store)
		gone []string
	}{
		{"nothing", func(t *testing.T, s *Store) {}, nil},
		{"delete one", func(t *testing.T, s *Store) {
			if err := s.DeleteConsoleSession(ctx, "a"); err != nil {
				t.Fatal(err)
			}
		}, []string{"a"}},
		{"delete a user's", func(t *testing.T, s *Store) {
			if n, err := s.DeleteConsoleSessions(ctx, "ines"); err != nil || n != 2 {
				t.Fatalf("deleted %d, %v", n, err)
			}
		}, []string{"a", "b"}},
		{"new password", func(t *testing.T, s *Store) {
			if err := s.SetConsoleUserPassword(ctx, "ines", "pbkdf2-sha256$1$AA$AA"); err != nil {
				t.Fatal(err)
			}
			if u, _ := s.ConsoleUser(ctx, "ines"); u.Password != "pbkdf2-sha256$1$AA$AA" {
				t.Fatalf("password not changed: %q", u.Password)
			}
		}, []string{"a", "b"}},
		{"new role", func(t *testing.T, s *Store) {
			if err := s.SetConsoleUserRole(ctx, "ines", "auditor"); err != nil {
				t.Fatal(err)
			}
		}, []string{"a", "b"}},
		{"disabled", func(t *testing.T, s *Store) {
			if err := s.SetConsoleUserDisabled(ctx, "otto", true); err != nil {
				t.Fatal(err)
			}
		}, []string{"c"}},
		{"re-enabled keeps none and ends none", func(t *testing.T, s *Store) {
			if err := s.SetConsoleUserDisabled(ctx, "otto", false); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"unknown user", func(t *testing.T, s *Store) {
			if err := s.SetConsoleUserRole(ctx, "nobody", "auditor"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("role of an unknown user: %v", err)
			}
			if err := s.SetConsoleUserPassword(ctx, "nobody", "x"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("password of an unknown user: %v", err)
			}
		}, nil},
		{"expired swept by the next sign-in", func(t *testing.T, s *Store) {
			// d signs in 9 h later: a, b and c are past their 8 h.
			if err := s.CreateConsoleSession(ctx, mk("d", "ines", t0.Add(9*time.Hour)), t0.Add(9*time.Hour-30*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}, []string{"a", "b", "c"}},
		{"idle swept by the next sign-in", func(t *testing.T, s *Store) {
			if err := s.TouchConsoleSession(ctx, "a", t0.Add(50*time.Minute)); err != nil {
				t.Fatal(err)
			}
			// At 1 h 10 with a 30 m idle timeout, only a (used at 0:50) lives.
			if err := s.CreateConsoleSession(ctx, mk("d", "otto", t0.Add(70*time.Minute)), t0.Add(40*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}, []string{"b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			for _, u := range []string{"ines", "otto"} {
				if err := s.CreateConsoleUser(ctx, ConsoleUser{Name: u, Role: "investigator", Password: "h", TOTPSecret: "s"}); err != nil {
					t.Fatal(err)
				}
			}
			for _, ss := range []ConsoleSession{mk("a", "ines", t0), mk("b", "ines", t0), mk("c", "otto", t0)} {
				if err := s.CreateConsoleSession(ctx, ss, t0.Add(-time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			tc.act(t, s)
			for _, h := range []string{"a", "b", "c"} {
				_, err := s.ConsoleSession(ctx, h)
				want := !contains(tc.gone, h)
				if (err == nil) != want {
					t.Errorf("session %s: err %v, want present %v", h, err, want)
				}
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestConsoleSessionRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	in := ConsoleSession{TokenHash: "h1", User: "oidc:alice", Role: "auditor", Source: "oidc", Created: t0, Expires: t0.Add(time.Hour)}
	if err := s.CreateConsoleSession(ctx, in, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// last_seen never moves back.
	if err := s.TouchConsoleSession(ctx, "h1", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchConsoleSession(ctx, "h1", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConsoleSession(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	in.LastSeen = t0.Add(10 * time.Minute)
	if got != in {
		t.Fatalf("got %+v\nwant %+v", got, in)
	}
	if _, err := s.ConsoleSession(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing session: %v", err)
	}
	if err := s.CreateConsoleSession(ctx, ConsoleSession{TokenHash: "h2"}, t0); err == nil {
		t.Fatal("session without user accepted")
	}
}
