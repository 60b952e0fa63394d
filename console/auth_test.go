package console

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$1000$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batterz") {
		t.Fatal("check disagrees")
	}
	h2, _ := HashPassword("correct horse battery", 1000)
	if h == h2 {
		t.Fatal("same salt twice")
	}
}

func TestLimiterWindow(t *testing.T) {
	l := newLimiter(time.Minute)
	t0 := time.Unix(0, 0)
	for i := range 3 {
		l.fail("k", t0.Add(time.Duration(i)*time.Second))
	}
	if l.allowed("k", 3, t0.Add(10*time.Second)) {
		t.Fatal("allowed at the limit")
	}
	if !l.allowed("k", 3, t0.Add(61*time.Second)) {
		t.Fatal("failures outside the window still count")
	}
}

// FuzzCheckPassword: a stored hash of any shape is refused, never a panic
// (the format is parsed at every sign-in).
func FuzzCheckPassword(f *testing.F) {
	f.Add("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "pw")
	f.Add("pbkdf2-sha256$-1$$", "")
	f.Add("$$$", "x")
	f.Fuzz(func(t *testing.T, hash, password string) {
		if CheckPassword(hash, password) && !strings.HasPrefix(hash, "pbkdf2-sha256$") {
			t.Fatalf("accepted %q", hash)
		}
	})
}
