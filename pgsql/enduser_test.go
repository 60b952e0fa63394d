package pgsql

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestVerifyEndUser(t *testing.T) {
	key := []byte("application key")
	now := time.Unix(1_800_000_000, 0)
	signed := func(user, purpose, ticket string, ts time.Time) map[string]string {
		return map[string]string{
			AttrUser: user, AttrPurpose: purpose, AttrTicket: ticket,
			AttrTimestamp: strconv.FormatInt(ts.Unix(), 10),
			AttrSignature: SignEndUser(key, user, purpose, ticket, ts),
		}
	}
	tamper := func(m map[string]string, k, v string) map[string]string { m[k] = v; return m }
	tests := []struct {
		name  string
		attrs map[string]string
		key   []byte
		err   error
	}{
		{"valid", signed("alice@example.com", "refund", "T-1", now), key, nil},
		{"valid, clock ahead", signed("alice", "", "", now.Add(4*time.Minute)), key, nil},
		{"stale", signed("alice", "refund", "T-1", now.Add(-6*time.Minute)), key, ErrEndUserStale},
		{"future", signed("alice", "refund", "T-1", now.Add(6*time.Minute)), key, ErrEndUserStale},
		{"other user", tamper(signed("alice", "refund", "T-1", now), AttrUser, "mallory"), key, ErrEndUserSignature},
		{"other purpose", tamper(signed("alice", "refund", "T-1", now), AttrPurpose, "export"), key, ErrEndUserSignature},
		{"wrong key", signed("alice", "refund", "T-1", now), []byte("other"), ErrEndUserSignature},
		{"no key", signed("alice", "refund", "T-1", now), nil, ErrEndUserSignature},
		{"no signature", tamper(signed("alice", "", "", now), AttrSignature, ""), key, ErrEndUserMissing},
		{"bad hex", tamper(signed("alice", "", "", now), AttrSignature, "zz"), key, ErrEndUserMalformed},
		{"bad ts", tamper(signed("alice", "", "", now), AttrTimestamp, "yesterday"), key, ErrEndUserMalformed},
		{"separator", signed("alice|refund", "", "", now), key, ErrEndUserMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, err := VerifyEndUser(tt.attrs, tt.key, now)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && user != tt.attrs[AttrUser] {
				t.Errorf("user = %q", user)
			}
		})
	}
}

// TestEndUserFromComment signs as an application would and verifies what
// Analyze parsed from the sqlcommenter comment.
func TestEndUserFromComment(t *testing.T) {
	key := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	sig := SignEndUser(key, "bob@example.com", "fraud review", "T-7", now)
	sql := "SELECT phone FROM passengers WHERE id = 1 /* custos_purpose='fraud%20review',custos_sig='" + sig +
		"',custos_ticket='T-7',custos_ts='1800000000',custos_user='bob%40example.com' */"
	a, err := Analyze(sql)
	if err != nil {
		t.Fatal(err)
	}
	user, err := VerifyEndUser(a.Comment, key, now)
	if err != nil || user != "bob@example.com" {
		t.Fatalf("VerifyEndUser = %q, %v", user, err)
	}
}
