// Package storetest is the conformance suite for custos.EventStore
// backends. A backend's tests call Run with a function that opens a store;
// every backend must pass the same suite.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
)

// Opener opens a store for test t.
//
// Each test starts from an empty store. When a test calls open again with
// the same t after closing the store it got, it MUST get the same data
// back: that is how durability across restarts is tested. The opener
// should close the store in t.Cleanup (Close is called twice then, which
// must be harmless).
type Opener func(t *testing.T) custos.EventStore

// Run runs the whole suite against the backend that open opens.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoginRoundTrip", testLoginRoundTrip},
		{"EmptyAppend", testEmptyAppend},
		{"IdempotentBatchTwice", testIdempotentBatchTwice},
		{"IdempotentWithinBatch", testIdempotentWithinBatch},
		{"UnsealedStoresNothing", testUnsealedStoresNothing},
		{"CancelledStoresNothing", testCancelledStoresNothing},
		{"OrderingAndPaging", testOrderingAndPaging},
		{"TimeBounds", testTimeBounds},
		{"TimeBoundsLateArrivals", testTimeBoundsLateArrivals},
		{"Limits", testLimits},
		{"SinceAndOffsets", testSinceAndOffsets},
		{"ConcurrentAppends", testConcurrentAppends},
		{"DurableAcrossReopen", testDurableAcrossReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// base is an arbitrary fixed instant; events are spread after it.
var base = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// Hash returns a stand-in blind-index hash for a subject value. Backends
// treat hashes as opaque; this only has to look like the real thing.
func Hash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// Access returns a sealed access event with every field set.
func Access(id string, at time.Time, actor string, subjects ...string) custos.AccessEvent {
	e := custos.AccessEvent{
		ID:         id,
		Time:       at,
		Actor:      custos.Actor{ID: actor, Roles: []string{"agent"}, OrgUnit: "ops", Attributes: map[string]string{"site": "pek"}},
		Source:     custos.Source{IP: "10.0.0.8", Device: "ws-12", UserAgent: "test", Session: "s-1"},
		Channel:    custos.ChannelIngest,
		Action:     custos.ActionRead,
		Resource:   custos.Resource{System: "pss", Object: "passengers", Route: "/p/{id}", Fingerprint: "f1"},
		Purpose:    custos.Purpose{Name: "customer_service", Ticket: "INC-1"},
		DataTypes:  []string{"cn_id"},
		Categories: []string{"identity"},
		Records:    int64(len(subjects)),
		Bytes:      100,
		Decision:   custos.DecisionAllow,
		Rules:      []string{"r1"},
		Outcome:    custos.OutcomeSuccess,
	}
	for _, s := range subjects {
		e.Subjects = append(e.Subjects, custos.Subject{Type: "cn_id", Hash: Hash(s), Masked: "110***********" + s[len(s)-1:]})
	}
	return e
}

// Login returns a login event with every field set.
func Login(id string, at time.Time, account string) custos.LoginEvent {
	return custos.LoginEvent{
		ID: id, Time: at, Account: account,
		Source: custos.Source{IP: "10.0.0.9"}, System: "pss", Method: "password",
		Outcome: custos.OutcomeFailure, Reason: "bad_password",
		CredentialFingerprint: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
	}
}

func mustAppend(t *testing.T, s custos.EventStore, events ...custos.AccessEvent) custos.AppendResult {
	t.Helper()
	res, err := s.AppendAccess(context.Background(), events)
	if err != nil {
		t.Fatalf("AppendAccess: %v", err)
	}
	return res
}

// events strips sequence numbers and normalizes times so that stored and
// original events compare equal.
func events(stored []custos.StoredAccess) []custos.AccessEvent {
	out := make([]custos.AccessEvent, len(stored))
	for i, s := range stored {
		out[i] = s.AccessEvent
		out[i].Time = out[i].Time.UTC()
	}
	return out
}

func ids(stored []custos.StoredAccess) []string {
	out := make([]string, len(stored))
	for i, s := range stored {
		out[i] = s.ID
	}
	return out
}

func seqs(stored []custos.StoredAccess) []int64 {
	out := make([]int64, len(stored))
	for i, s := range stored {
		out[i] = s.Seq
	}
	return out
}

func wantIDs(t *testing.T, what string, got []custos.StoredAccess, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if g := ids(got); !reflect.DeepEqual(g, want) {
		t.Errorf("%s: got ids %v, want %v", what, g, want)
	}
}

func testRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	e1 := Access("e-1", base, "emp-1", "110101199003071231")
	e2 := Access("e-2", base.Add(time.Minute), "emp-2", "110101199003071231", "110101199003071242")
	e3 := Access("e-3", base.Add(2*time.Minute).In(time.FixedZone("CST", 8*3600)), "emp-1")
	e3.Resource.Object = "bookings"
	res := mustAppend(t, s, e1, e2, e3)
	if res != (custos.AppendResult{Stored: 3}) {
		t.Fatalf("AppendAccess result = %+v, want 3 stored", res)
	}

	sub, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	e3UTC := e3
	e3UTC.Time = e3.Time.UTC()
	checks := []struct {
		name string
		got  []custos.StoredAccess
		err  error
		want []custos.AccessEvent
	}{
		{name: "subject", got: sub, want: []custos.AccessEvent{e2, e1}},
	}
	add := func(name string, got []custos.StoredAccess, err error, want ...custos.AccessEvent) {
		checks = append(checks, struct {
			name string
			got  []custos.StoredAccess
			err  error
			want []custos.AccessEvent
		}{name, got, err, want})
	}
	got, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071242"), custos.Query{})
	add("second subject", got, err, e2)
	got, err = s.SubjectAccesses(ctx, "cn_mobile", Hash("110101199003071231"), custos.Query{})
	add("same hash, other type", got, err)
	got, err = s.ActorAccesses(ctx, "emp-1", custos.Query{})
	add("actor", got, err, e3UTC, e1)
	got, err = s.ResourceAccesses(ctx, "pss", "", custos.Query{})
	add("system", got, err, e3UTC, e2, e1)
	got, err = s.ResourceAccesses(ctx, "pss", "passengers", custos.Query{})
	add("system and object", got, err, e2, e1)
	got, err = s.ResourceAccesses(ctx, "crm", "", custos.Query{})
	add("other system", got, err)
	got, err = s.AccessSince(ctx, 0, 10)
	add("since", got, err, e1, e2, e3UTC)

	for _, c := range checks {
		if c.err != nil {
			t.Errorf("%s: %v", c.name, c.err)
			continue
		}
		want := c.want
		if want == nil {
			want = []custos.AccessEvent{}
		}
		if g := events(c.got); !reflect.DeepEqual(g, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, g, want)
		}
	}
}

func testLoginRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	l1 := Login("l-1", base, "emp-1")
	l2 := Login("l-2", base.Add(time.Second), "emp-2")
	l3 := Login("l-3", base.Add(2*time.Second), "emp-1")
	l3.Outcome, l3.Reason, l3.CredentialFingerprint = custos.OutcomeSuccess, "", ""
	l2.Source.IP = "203.0.113.7"
	res, err := s.AppendLogins(ctx, []custos.LoginEvent{l1, l2, l3})
	if err != nil {
		t.Fatal(err)
	}
	if res != (custos.AppendResult{Stored: 3}) {
		t.Fatalf("AppendLogins result = %+v, want 3 stored", res)
	}
	res, err = s.AppendLogins(ctx, []custos.LoginEvent{l1, l1})
	if err != nil {
		t.Fatal(err)
	}
	if res != (custos.AppendResult{Duplicates: 2}) {
		t.Errorf("re-append result = %+v, want 2 duplicates", res)
	}
	logins := func(stored []custos.StoredLogin) []custos.LoginEvent {
		out := make([]custos.LoginEvent, len(stored))
		for i, s := range stored {
			out[i] = s.LoginEvent
			out[i].Time = out[i].Time.UTC()
		}
		return out
	}
	got, err := s.AccountLogins(ctx, "emp-1", custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if g, want := logins(got), []custos.LoginEvent{l3, l1}; !reflect.DeepEqual(g, want) {
		t.Errorf("AccountLogins:\n got %+v\nwant %+v", g, want)
	}
	got, err = s.AccountLogins(ctx, "emp-1", custos.Query{Before: got[0].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if g, want := logins(got), []custos.LoginEvent{l1}; !reflect.DeepEqual(g, want) {
		t.Errorf("AccountLogins before %d: got %+v, want %+v", got[0].Seq, g, want)
	}
	for _, c := range []struct {
		ip   string
		q    custos.Query
		want []custos.LoginEvent
	}{
		{"10.0.0.9", custos.Query{}, []custos.LoginEvent{l3, l1}},
		{"203.0.113.7", custos.Query{}, []custos.LoginEvent{l2}},
		{"10.0.0.9", custos.Query{Limit: 1}, []custos.LoginEvent{l3}},
		{"10.0.0.9", custos.Query{To: base.Add(time.Second)}, []custos.LoginEvent{l1}},
		{"192.0.2.1", custos.Query{}, []custos.LoginEvent{}},
	} {
		got, err := s.SourceLogins(ctx, c.ip, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if g := logins(got); !reflect.DeepEqual(g, c.want) {
			t.Errorf("SourceLogins(%s, %+v):\n got %+v\nwant %+v", c.ip, c.q, g, c.want)
		}
	}
	since, err := s.LoginsSince(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := logins(since), []custos.LoginEvent{l1, l2}; !reflect.DeepEqual(g, want) {
		t.Errorf("LoginsSince(0, 2): got %+v, want %+v", g, want)
	}
	rest, err := s.LoginsSince(ctx, since[1].Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := logins(rest), []custos.LoginEvent{l3}; !reflect.DeepEqual(g, want) {
		t.Errorf("LoginsSince(%d): got %+v, want %+v", since[1].Seq, g, want)
	}
	// Logins and accesses number independently: a login does not show up
	// as an access.
	acc, err := s.AccessSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 0 {
		t.Errorf("AccessSince after logins only: %d events, want 0", len(acc))
	}
}

func testEmptyAppend(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	if res, err := s.AppendAccess(ctx, nil); err != nil || res != (custos.AppendResult{}) {
		t.Errorf("AppendAccess(nil) = %+v, %v", res, err)
	}
	if res, err := s.AppendLogins(ctx, []custos.LoginEvent{}); err != nil || res != (custos.AppendResult{}) {
		t.Errorf("AppendLogins(empty) = %+v, %v", res, err)
	}
}

func testIdempotentBatchTwice(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	batch := []custos.AccessEvent{
		Access("a-1", base, "emp-1", "110101199003071231"),
		Access("a-2", base.Add(time.Second), "emp-1", "110101199003071231"),
	}
	if res := mustAppend(t, s, batch...); res != (custos.AppendResult{Stored: 2}) {
		t.Fatalf("first append = %+v, want 2 stored", res)
	}
	// The replay carries changed content: the stored version must win.
	replay := append([]custos.AccessEvent(nil), batch...)
	replay[0].Actor.ID = "emp-9"
	if res := mustAppend(t, s, replay...); res != (custos.AppendResult{Duplicates: 2}) {
		t.Fatalf("replay = %+v, want 2 duplicates", res)
	}
	all, err := s.AccessSince(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "AccessSince", all, "a-1", "a-2")
	sub, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "SubjectAccesses", sub, "a-2", "a-1")
	other, err := s.ActorAccesses(ctx, "emp-9", custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "actor of the replayed copy", other)
}

func testIdempotentWithinBatch(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	e := Access("dup", base, "emp-1", "110101199003071231", "110101199003071231")
	res := mustAppend(t, s, e, Access("x", base, "emp-1"), e)
	if res != (custos.AppendResult{Stored: 2, Duplicates: 1}) {
		t.Fatalf("append = %+v, want 2 stored 1 duplicate", res)
	}
	sub, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	// The subject listed twice in the event and the event given twice in
	// the batch still make one history entry.
	wantIDs(t, "SubjectAccesses", sub, "dup")
}

func testUnsealedStoresNothing(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	raw := Access("raw", base, "emp-1", "110101199003071231")
	raw.Subjects[0].Value = "110101199003071231"
	unhashed := Access("unhashed", base, "emp-1", "110101199003071231")
	unhashed.Subjects[0].Hash = ""
	for _, tt := range []struct {
		name  string
		batch []custos.AccessEvent
	}{
		{"raw value last", []custos.AccessEvent{Access("ok-1", base, "emp-1"), raw}},
		{"raw value first", []custos.AccessEvent{raw, Access("ok-2", base, "emp-1")}},
		{"no hash", []custos.AccessEvent{Access("ok-3", base, "emp-1"), unhashed}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AppendAccess(ctx, tt.batch)
			if !errors.Is(err, custos.ErrUnsealed) {
				t.Fatalf("AppendAccess error = %v, want ErrUnsealed", err)
			}
			if err != nil && strings.Contains(err.Error(), "110101199003071231") {
				t.Errorf("error text carries the raw subject value: %v", err)
			}
		})
	}
	all, err := s.AccessSince(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "stored after rejected batches", all)
}

func testCancelledStoresNothing(t *testing.T, open Opener) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AppendAccess(ctx, []custos.AccessEvent{Access("c-1", base, "emp-1")}); err == nil {
		t.Error("AppendAccess with a cancelled context succeeded")
	}
	if _, err := s.AppendLogins(ctx, []custos.LoginEvent{Login("c-2", base, "emp-1")}); err == nil {
		t.Error("AppendLogins with a cancelled context succeeded")
	}
	all, err := s.AccessSince(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "stored after cancelled append", all)
	logins, err := s.LoginsSince(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 0 {
		t.Errorf("LoginsSince after cancelled append: %d logins, want 0", len(logins))
	}
}

func testOrderingAndPaging(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	const n = 25
	var want []string
	for i := 0; i < n; i += 5 {
		var batch []custos.AccessEvent
		for j := i; j < i+5; j++ {
			// Event times run backwards against arrival on purpose: history
			// is ordered by sequence (arrival), the order Before pages in.
			batch = append(batch, Access(fmt.Sprintf("p-%02d", j), base.Add(-time.Duration(j)*time.Minute), "emp-1", "110101199003071231"))
			want = append([]string{fmt.Sprintf("p-%02d", j)}, want...)
		}
		mustAppend(t, s, batch...)
	}
	other := Access("other", base, "emp-2", "220101199003071231")
	other.Resource.Object = "bookings"
	mustAppend(t, s, other)

	queries := map[string]func(q custos.Query) ([]custos.StoredAccess, error){
		"subject": func(q custos.Query) ([]custos.StoredAccess, error) {
			return s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), q)
		},
		"actor": func(q custos.Query) ([]custos.StoredAccess, error) { return s.ActorAccesses(ctx, "emp-1", q) },
		"object": func(q custos.Query) ([]custos.StoredAccess, error) {
			return s.ResourceAccesses(ctx, "pss", "passengers", q)
		},
	}
	for name, query := range queries {
		t.Run(name, func(t *testing.T) {
			var got []custos.StoredAccess
			q := custos.Query{Limit: 7}
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				page, err := query(q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > 7 {
					t.Fatalf("page of %d, limit 7", len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				q.Before = page[len(page)-1].Seq
			}
			wantIDs(t, "pages", got, want...)
			sq := seqs(got)
			if !sort.SliceIsSorted(sq, func(i, j int) bool { return sq[i] > sq[j] }) {
				t.Errorf("sequence numbers not descending: %v", sq)
			}
		})
	}
}

func testTimeBounds(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	var batch []custos.AccessEvent
	for i := range 10 {
		batch = append(batch, Access(fmt.Sprintf("t-%d", i), base.Add(time.Duration(i)*time.Hour), "emp-1", "110101199003071231"))
	}
	mustAppend(t, s, batch...)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }

	for _, tt := range []struct {
		name string
		q    custos.Query
		want []string
	}{
		{"half-open window", custos.Query{From: at(3), To: at(7)}, []string{"t-6", "t-5", "t-4", "t-3"}},
		{"from only", custos.Query{From: at(8)}, []string{"t-9", "t-8"}},
		{"to only", custos.Query{To: at(2)}, []string{"t-1", "t-0"}},
		{"bounds in another zone", custos.Query{From: at(3).In(time.FixedZone("CST", 8*3600)), To: at(4)}, []string{"t-3"}},
		{"empty window", custos.Query{From: at(5), To: at(5)}, nil},
		{"window and limit", custos.Query{From: at(3), To: at(7), Limit: 2}, []string{"t-6", "t-5"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs(t, "subject", got, tt.want...)
			got, err = s.ActorAccesses(ctx, "emp-1", tt.q)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs(t, "actor", got, tt.want...)
			got, err = s.ResourceAccesses(ctx, "pss", "", tt.q)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs(t, "system", got, tt.want...)
			got, err = s.ResourceAccesses(ctx, "pss", "passengers", tt.q)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs(t, "object", got, tt.want...)
		})
	}

	var logins []custos.LoginEvent
	for i := range 10 {
		logins = append(logins, Login(fmt.Sprintf("l-%d", i), at(i), "emp-1"))
	}
	if _, err := s.AppendLogins(ctx, logins); err != nil {
		t.Fatal(err)
	}
	got, err := s.AccountLogins(ctx, "emp-1", custos.Query{From: at(3), To: at(5)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "l-4" || got[1].ID != "l-3" {
		t.Errorf("AccountLogins in [3h, 5h): got %+v, want l-4, l-3", got)
	}
}

// testTimeBoundsLateArrivals appends events out of time order, in separate
// calls, hours and days apart: time bounds must still find exactly the
// events inside them, whatever a backend does to narrow its scans.
func testTimeBoundsLateArrivals(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	hours := []int{50, 2, 49, 0, 51, 1, 26, 50}
	for i, h := range hours {
		mustAppend(t, s, Access(fmt.Sprintf("late-%d", i), base.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Minute), "emp-1", "110101199003071231"))
	}
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	for _, tt := range []struct {
		name string
		q    custos.Query
		want []string
	}{
		{"early hours", custos.Query{From: at(0), To: at(3)}, []string{"late-5", "late-3", "late-1"}},
		{"one hour", custos.Query{From: at(50), To: at(51)}, []string{"late-7", "late-0"}},
		{"middle", custos.Query{From: at(3), To: at(49)}, []string{"late-6"}},
		{"from", custos.Query{From: at(49)}, []string{"late-7", "late-4", "late-2", "late-0"}},
		{"to", custos.Query{To: at(1)}, []string{"late-3"}},
		{"before nothing", custos.Query{To: at(-5)}, nil},
		{"after everything", custos.Query{From: at(60)}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			queries := map[string]func() ([]custos.StoredAccess, error){
				"subject": func() ([]custos.StoredAccess, error) {
					return s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), tt.q)
				},
				"actor":  func() ([]custos.StoredAccess, error) { return s.ActorAccesses(ctx, "emp-1", tt.q) },
				"system": func() ([]custos.StoredAccess, error) { return s.ResourceAccesses(ctx, "pss", "", tt.q) },
				"object": func() ([]custos.StoredAccess, error) { return s.ResourceAccesses(ctx, "pss", "passengers", tt.q) },
			}
			for name, query := range queries {
				got, err := query()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				wantIDs(t, name, got, tt.want...)
			}
		})
	}
}

func testLimits(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	var batch []custos.AccessEvent
	for i := range custos.DefaultLimit + 20 {
		batch = append(batch, Access(fmt.Sprintf("m-%03d", i), base, "emp-1"))
	}
	mustAppend(t, s, batch...)
	for _, tt := range []struct {
		limit, want int
	}{
		{0, custos.DefaultLimit},
		{-1, custos.DefaultLimit},
		{5, 5},
		{custos.MaxLimit + 1, custos.DefaultLimit + 20},
	} {
		got, err := s.ActorAccesses(ctx, "emp-1", custos.Query{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.want {
			t.Errorf("ActorAccesses limit %d: %d events, want %d", tt.limit, len(got), tt.want)
		}
	}
	got, err := s.AccessSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != custos.DefaultLimit {
		t.Errorf("AccessSince limit 0: %d events, want %d", len(got), custos.DefaultLimit)
	}
}

func testSinceAndOffsets(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	var want []string
	for i := range 3 {
		var batch []custos.AccessEvent
		for j := range 4 {
			id := fmt.Sprintf("s-%d-%d", i, j)
			batch = append(batch, Access(id, base, "emp-1"))
			want = append(want, id)
		}
		mustAppend(t, s, batch...)
	}
	if off, err := s.Offset(ctx, "detector"); err != nil || off != 0 {
		t.Fatalf("Offset of a new consumer = %d, %v; want 0, nil", off, err)
	}
	// A consumer reads in pages of 5 and records where it is.
	var got []custos.StoredAccess
	for {
		off, err := s.Offset(ctx, "detector")
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.AccessSince(ctx, off, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		if err := s.SetOffset(ctx, "detector", page[len(page)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	wantIDs(t, "consumed", got, want...)
	sq := seqs(got)
	if !sort.SliceIsSorted(sq, func(i, j int) bool { return sq[i] < sq[j] }) || sq[0] <= 0 {
		t.Errorf("sequence numbers not positive and increasing: %v", sq)
	}
	if off, err := s.Offset(ctx, "other"); err != nil || off != 0 {
		t.Errorf("Offset of another consumer = %d, %v; want 0, nil", off, err)
	}
	// New events get higher numbers than everything consumed.
	mustAppend(t, s, Access("late", base.Add(-time.Hour), "emp-1"))
	off, _ := s.Offset(ctx, "detector")
	page, err := s.AccessSince(ctx, off, 5)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after new append", page, "late")
}

func testConcurrentAppends(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	const (
		workers = 16
		batches = 10
		size    = 20
	)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		stored   int
		dups     int
		firstErr error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				batch := make([]custos.AccessEvent, 0, size)
				for i := range size {
					// Workers come in pairs sending the same IDs, as two
					// retrying clients would.
					id := fmt.Sprintf("w%d-b%d-%d", w/2, b, i)
					batch = append(batch, Access(id, base, fmt.Sprintf("emp-%d", w), "110101199003071231"))
				}
				res, err := s.AppendAccess(ctx, batch)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				stored += res.Stored
				dups += res.Duplicates
				mu.Unlock()
				if w%4 == 0 {
					if _, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), custos.Query{Limit: 10}); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
				if _, err := s.AppendLogins(ctx, []custos.LoginEvent{Login(fmt.Sprintf("cl-%d-%d", w, b), base, "emp-1")}); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	distinct := workers / 2 * batches * size
	if stored != distinct || dups != distinct {
		t.Errorf("stored %d, duplicates %d; want %d and %d", stored, dups, distinct, distinct)
	}
	var all []custos.StoredAccess
	for off := int64(0); ; {
		page, err := s.AccessSince(ctx, off, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		off = page[len(page)-1].Seq
	}
	if len(all) != distinct {
		t.Errorf("AccessSince returned %d events, want %d", len(all), distinct)
	}
	seen := map[string]bool{}
	for i, a := range all {
		if seen[a.ID] {
			t.Errorf("id %s stored twice", a.ID)
		}
		seen[a.ID] = true
		if i > 0 && a.Seq <= all[i-1].Seq {
			t.Errorf("seq %d after %d", a.Seq, all[i-1].Seq)
		}
	}
	logins, err := s.LoginsSince(ctx, 0, custos.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != workers*batches {
		t.Errorf("LoginsSince: %d logins, want %d", len(logins), workers*batches)
	}
}

func testDurableAcrossReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	e := Access("d-1", base, "emp-1", "110101199003071231")
	mustAppend(t, s, e, Access("d-2", base, "emp-1"))
	if _, err := s.AppendLogins(ctx, []custos.LoginEvent{Login("dl-1", base, "emp-1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOffset(ctx, "detector", 1); err != nil {
		t.Fatal(err)
	}
	before, err := s.AccessSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.AppendAccess(ctx, []custos.AccessEvent{Access("after-close", base, "emp-1")}); err == nil {
		t.Error("AppendAccess after Close succeeded")
	}

	s = open(t)
	after, err := s.AccessSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seqs(after), seqs(before)) || !reflect.DeepEqual(events(after), events(before)) {
		t.Errorf("after reopen:\n got %+v\nwant %+v", after, before)
	}
	sub, err := s.SubjectAccesses(ctx, "cn_id", Hash("110101199003071231"), custos.Query{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "subject after reopen", sub, "d-1")
	if off, err := s.Offset(ctx, "detector"); err != nil || off != 1 {
		t.Errorf("Offset after reopen = %d, %v; want 1", off, err)
	}
	logins, err := s.AccountLogins(ctx, "emp-1", custos.Query{})
	if err != nil || len(logins) != 1 {
		t.Errorf("AccountLogins after reopen = %d logins, %v; want 1", len(logins), err)
	}
	// Sequence numbers continue after the reopen, and idempotency holds
	// across it.
	res := mustAppend(t, s, e, Access("d-3", base, "emp-1"))
	if res != (custos.AppendResult{Stored: 1, Duplicates: 1}) {
		t.Errorf("append after reopen = %+v, want 1 stored 1 duplicate", res)
	}
	last, err := s.AccessSince(ctx, before[len(before)-1].Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "new after reopen", last, "d-3")
}
