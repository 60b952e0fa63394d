package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/storetest"
)

// TestTailAnswersAsTheDatabase appends events and logins in many groups
// from concurrent callers, then asks AccessSince and LoginsSince from
// every position: what the tail answers must equal what the database
// answers, and reads from before the tail go to the database.
func TestTailAnswersAsTheDatabase(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 40 {
				var evs []custos.AccessEvent
				var logins []custos.LoginEvent
				for i := range 150 {
					id := fmt.Sprintf("e-%d-%d-%d", c, b, i)
					evs = append(evs, storetest.Access(id, t0.Add(time.Duration(b*150+i)*time.Second), fmt.Sprintf("emp-%d", i%7), fmt.Sprintf("1101011990%08d", c*100000+b*150+i)))
					if i%10 == 0 {
						logins = append(logins, storetest.Login("l"+id, t0, fmt.Sprintf("emp-%d", i%7)))
					}
				}
				evs = append(evs, evs[3]) // a duplicate: not stored, not held
				if _, err := s.AppendAccess(ctx, evs); err != nil {
					t.Error(err)
				}
				if _, err := s.AppendLogins(ctx, logins); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	const total = 4 * 40 * 150
	if s.accessTail.base == 0 {
		t.Fatalf("the tail still holds every event (base 0): %d events are more than tailRows", total)
	}
	if _, ok, _ := s.accessTail.since(s.accessTail.base, 10); !ok {
		t.Fatal("the tail does not answer from its own base")
	}
	if _, ok, _ := s.accessTail.since(s.accessTail.base-1, 10); ok {
		t.Fatal("the tail answers from before its base")
	}
	for _, after := range []int64{0, 1, s.accessTail.base - 1, s.accessTail.base, s.accessTail.base + 1, total - 600, total - 1, total, total + 5} {
		for _, limit := range []int{1, 100, 1000} {
			got, err := s.AccessSince(ctx, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			want, err := queryAccess(ctx, s.rdb, limit, accessSinceQuery, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("AccessSince(%d, %d): %d events, the database has %d (first %v / %v)", after, limit, len(got), len(want), first(got), first(want))
			}
		}
	}
	lbase := s.loginTail.base
	for _, after := range []int64{0, lbase, lbase + 3, 600} {
		got, _ := s.LoginsSince(ctx, after, 500)
		want, _ := queryLogins(ctx, s.rdb, 500, loginsSinceQuery, after, 500)
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("LoginsSince(%d): %d logins, the database has %d", after, len(got), len(want))
		}
	}

	// An erasure rewrites held documents: from then on the followers get
	// the rewritten ones.
	hash := storetest.Hash(fmt.Sprintf("1101011990%08d", 3*100000+39*150+149))
	if n, err := s.EraseSubject(ctx, "cn_id", hash); err != nil || n != 1 {
		t.Fatalf("erase: %d, %v", n, err)
	}
	got, err := s.AccessSince(ctx, total-1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		for _, sub := range e.Subjects {
			if sub.Hash == hash {
				t.Fatalf("event %s still names the erased subject", e.ID)
			}
		}
	}
	// And new events go on being held.
	if _, err := s.AppendAccess(ctx, []custos.AccessEvent{storetest.Access("after-erase", t0, "emp-1", "110101199003071234")}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AccessSince(ctx, total, 10)
	if len(got) != 1 || got[0].ID != "after-erase" || s.accessTail.rows != 1 {
		t.Fatalf("after the erasure: %d events (held %d)", len(got), s.accessTail.rows)
	}
}

func first(es []custos.StoredAccess) any {
	if len(es) == 0 {
		return nil
	}
	return es[0].Seq
}
