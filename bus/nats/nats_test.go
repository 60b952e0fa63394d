package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/storetest"
)

func natsURL() string {
	if v := os.Getenv("CUSTOS_TEST_NATS"); v != "" {
		return v
	}
	return "nats://127.0.0.1:4222"
}

// testBus connects to the local NATS with a stream of its own, deleted in
// cleanup.
func testBus(t *testing.T, opts Options) *Bus {
	t.Helper()
	if opts.Stream == "" {
		b := make([]byte, 5)
		rand.Read(b)
		opts.Stream = "T" + hex.EncodeToString(b)
	}
	opts.URL = natsURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus, err := Connect(ctx, opts)
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("NATS: %v", err)
		}
		t.Skipf("NATS not available: %v", err)
	}
	t.Cleanup(func() {
		bus.DeleteStream(context.Background())
		bus.Close()
	})
	return bus
}

func accesses(n int, actors ...string) []custos.AccessEvent {
	base := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var out []custos.AccessEvent
	for i := range n {
		out = append(out, storetest.Access(fmt.Sprintf("e-%03d", i), base.Add(time.Duration(i)*time.Second), actors[i%len(actors)], "110101199003071231"))
	}
	return out
}

func TestPublishReadPartitionedAndDeduplicated(t *testing.T) {
	bus := testBus(t, Options{Partitions: 4})
	ctx := context.Background()
	evs := accesses(40, "emp-1", "emp-2", "emp-3", "emp-4", "emp-5")
	envs, err := AccessEnvelopes(evs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bus.Publish(ctx, envs)
	if err != nil || res != (custos.AppendResult{Stored: 40}) {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	// The same ids again (a retry, a spool replay) are dropped by the stream.
	res, err = bus.Publish(ctx, envs[:10])
	if err != nil || res != (custos.AppendResult{Duplicates: 10}) {
		t.Fatalf("republish = %+v, %v", res, err)
	}
	logins, _ := LoginEnvelopes([]custos.LoginEvent{storetest.Login("l-1", evs[0].Time, "emp-1")})
	if _, err := bus.Publish(ctx, logins); err != nil {
		t.Fatal(err)
	}

	got := map[int][]string{}
	for p := range 4 {
		rctx, cancel := context.WithCancel(ctx)
		var seqs []uint64
		err := bus.Read(rctx, p, 0, ReadOptions{MaxWait: 50 * time.Millisecond}, func(ctx context.Context, msgs []Message) error {
			for _, m := range msgs {
				seqs = append(seqs, m.Seq)
				switch m.Kind {
				case KindAccess:
					if bus.Partition(m.Access.Actor.ID) != p {
						t.Errorf("actor %s read from partition %d", m.Access.Actor.ID, p)
					}
					got[p] = append(got[p], m.Access.ID)
				case KindLogin:
					got[p] = append(got[p], "login:"+m.Login.ID)
				}
			}
			cancel()
			return nil
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(seqs) {
			t.Errorf("partition %d out of order: %v", p, seqs)
		}
	}
	var all []string
	for _, ids := range got {
		all = append(all, ids...)
	}
	if len(all) != 41 {
		t.Errorf("read %d events, want 41 (40 accesses, 1 login): %v", len(all), got)
	}
	// Each actor's events, in publish order, within one partition.
	p1 := bus.Partition("emp-1")
	var want []string
	for _, e := range evs {
		if bus.Partition(e.Actor.ID) == p1 {
			want = append(want, e.ID)
		}
	}
	var gotP1 []string
	for _, id := range got[p1] {
		if id != "login:l-1" {
			gotP1 = append(gotP1, id)
		}
	}
	if !reflect.DeepEqual(gotP1, want) {
		t.Errorf("partition %d = %v, want %v", p1, gotP1, want)
	}

	// Every event is also in the cross partition of its source, once.
	q := bus.Partition(evs[0].Source.IP)
	wantCross := []string{}
	for _, e := range evs {
		wantCross = append(wantCross, e.ID)
	}
	if l := storetest.Login("l-1", evs[0].Time, "emp-1"); bus.Partition(l.Source.IP) == q {
		wantCross = append(wantCross, "login:l-1")
	}
	var cross []string
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = bus.Read(rctx, bus.Partitions()+q, 0, ReadOptions{MaxWait: 50 * time.Millisecond}, func(ctx context.Context, msgs []Message) error {
		for _, m := range msgs {
			if m.Access != nil {
				cross = append(cross, m.Access.ID)
			} else {
				cross = append(cross, "login:"+m.Login.ID)
			}
		}
		if len(cross) >= len(wantCross) {
			cancel()
		}
		return nil
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cross, wantCross) {
		t.Errorf("cross partition %d = %v, want %v", q, cross, wantCross)
	}
}

// TestCrossRouting: an access event goes to its actor's partition and to
// the cross partitions of its source and (a registration) its identity
// document; a login to its account's and its source's.
func TestCrossRouting(t *testing.T) {
	bus := &Bus{opts: Options{Partitions: 64}}
	evs := accesses(1, "emp-1")
	reg := evs[0]
	reg.Action = custos.ActionCreate
	reg.Resource.Object = "sim_registration"
	reg.Subjects = slices.Clone(reg.Subjects)
	noIP := evs[0]
	noIP.Source.IP = ""
	envs, err := AccessEnvelopes([]custos.AccessEvent{evs[0], reg, noIP})
	if err != nil {
		t.Fatal(err)
	}
	logins, _ := LoginEnvelopes([]custos.LoginEvent{storetest.Login("l-1", evs[0].Time, "emp-1")})
	src, doc := bus.Partition(evs[0].Source.IP), bus.Partition(evs[0].Subjects[0].Hash)
	if src == doc {
		t.Fatal("pick a test where source and document partitions differ")
	}
	for i, tc := range []struct {
		env  Envelope
		want []int
	}{
		{envs[0], []int{src}},
		{envs[1], []int{src, doc}},
		{envs[2], nil},
		{logins[0], []int{bus.Partition(storetest.Login("l-1", evs[0].Time, "emp-1").Source.IP)}},
	} {
		if got := bus.CrossPartitions(&tc.env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: cross partitions %v, want %v", i, got, tc.want)
		}
		// A spool record of an older build has no keys: they are read
		// from the event.
		old := tc.env
		old.Source, old.Doc, old.Keyed = "", "", false
		if got := bus.CrossPartitions(&old); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d, unkeyed: cross partitions %v, want %v", i, got, tc.want)
		}
	}
}

func TestReadFromPosition(t *testing.T) {
	bus := testBus(t, Options{Partitions: 1})
	ctx := context.Background()
	envs, _ := AccessEnvelopes(accesses(10, "emp-1"))
	if _, err := bus.Publish(ctx, envs); err != nil {
		t.Fatal(err)
	}
	// The stream interleaves the cross copies: find the sequence of the
	// partition's sixth event.
	var seqs []uint64
	rctx, cancel := context.WithCancel(ctx)
	err := bus.Read(rctx, 0, 0, ReadOptions{MaxWait: 50 * time.Millisecond}, func(ctx context.Context, msgs []Message) error {
		for _, m := range msgs {
			seqs = append(seqs, m.Seq)
		}
		if len(seqs) >= 10 {
			cancel()
		}
		return nil
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	rctx, cancel = context.WithCancel(ctx)
	defer cancel()
	err = bus.Read(rctx, 0, seqs[5], ReadOptions{MaxWait: 50 * time.Millisecond}, func(ctx context.Context, msgs []Message) error {
		for _, m := range msgs {
			ids = append(ids, m.Access.ID)
		}
		if len(ids) >= 4 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"e-006", "e-007", "e-008", "e-009"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("read after seq %d = %v, want %v", seqs[5], ids, want)
	}
}

func TestUnsealedRefused(t *testing.T) {
	evs := accesses(1, "emp-1")
	evs[0].Subjects[0].Value = "110101199003071231"
	if _, err := AccessEnvelopes(evs); err == nil {
		t.Fatal("unsealed event encoded")
	}
}

// TestLeasesShareAndMove runs two nodes: they split the units (3 actor
// and 3 cross partitions), and
// when one stops its partitions move to the other; when it comes back
// they split again. No partition is ever worked by two nodes at once.
func TestLeasesShareAndMove(t *testing.T) {
	bus := testBus(t, Options{Partitions: 3, LeaseTTL: time.Second})
	var mu sync.Mutex
	active := map[int]string{}
	owned := map[string][]int{}
	work := func(node string) Work {
		return func(ctx context.Context, p int) error {
			mu.Lock()
			if other, ok := active[p]; ok {
				t.Errorf("partition %d worked by %s and %s", p, other, node)
			}
			active[p] = node
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			delete(active, p)
			mu.Unlock()
			return nil
		}
	}
	run := func(ctx context.Context, node string, wg *sync.WaitGroup) {
		defer wg.Done()
		bus.RunPartitions(ctx, node, work(node), func(ps []int) {
			mu.Lock()
			owned[node] = ps
			mu.Unlock()
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s: owned %v", what, owned)
	}
	var wg sync.WaitGroup
	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	ctxB, stopB := context.WithCancel(context.Background())
	wg.Add(2)
	go run(ctxA, "a", &wg)
	go run(ctxB, "b", &wg)
	waitFor("split 3/3", func() bool { return len(owned["a"]) == 3 && len(owned["b"]) == 3 && len(active) == 6 })

	stopB()
	waitFor("a takes all", func() bool { return len(owned["a"]) == 6 && len(active) == 6 })

	ctxB, stopB = context.WithCancel(context.Background())
	wg.Add(1)
	go run(ctxB, "b", &wg)
	waitFor("split again", func() bool { return len(owned["a"]) == 3 && len(owned["b"]) == 3 && len(active) == 6 })
	stopA()
	stopB()
	wg.Wait()
}

func TestSpoolTornTailAndDrain(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	envs, _ := AccessEnvelopes(accesses(5, "emp-1"))
	if err := s.Append(envs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(envs[2:]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A crash in the middle of a third append leaves a torn record.
	f, _ := os.OpenFile(filepath.Join(dir, spoolFile), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 1, 0, 1, 2, 3})
	f.Close()

	s, err = OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Pending() != 5 {
		t.Fatalf("pending after reopen = %d, want 5", s.Pending())
	}
	var got []string
	fail := true
	drain := func(ctx context.Context, b []Envelope) error {
		if fail && len(got) == 2 {
			return fmt.Errorf("bus down")
		}
		for _, e := range b {
			got = append(got, e.ID)
		}
		return nil
	}
	if err := s.Drain(context.Background(), drain); err == nil {
		t.Fatal("drain with a failing bus succeeded")
	}
	if s.Pending() != 3 {
		t.Errorf("pending after partial drain = %d, want 3", s.Pending())
	}
	fail = false
	if err := s.Drain(context.Background(), drain); err != nil {
		t.Fatal(err)
	}
	if want := []string{"e-000", "e-001", "e-002", "e-003", "e-004"}; !reflect.DeepEqual(got, want) {
		t.Errorf("drained %v, want %v", got, want)
	}
	if st, _ := os.Stat(filepath.Join(dir, spoolFile)); st.Size() != 0 || s.Pending() != 0 {
		t.Errorf("spool not emptied: %d bytes, %d pending", st.Size(), s.Pending())
	}
}

// TestPublisherSpoolsWhileBusDown: with the bus unreachable a batch is
// spooled and acknowledged; fail-closed refuses it; after the bus returns
// the spool reaches the stream in order.
func TestPublisherSpoolsWhileBusDown(t *testing.T) {
	up := testBus(t, Options{Partitions: 1})
	ctx := context.Background()
	// A second client on the same stream, then cut off, plays the gateway
	// whose bus is down.
	down, err := Connect(ctx, Options{URL: natsURL(), Stream: up.Stream(), Partitions: 1, PublishTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	down.Close()

	closed := &Publisher{Bus: down, FailClosed: true}
	if _, err := closed.AppendAccess(ctx, accesses(1, "emp-1")); err == nil {
		t.Fatal("fail-closed publisher accepted a batch with the bus down")
	}

	spool, err := OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	p := &Publisher{Bus: down, Spool: spool}
	evs := accesses(6, "emp-1")
	for i := 0; i < 6; i += 2 {
		res, err := p.AppendAccess(ctx, evs[i:i+2])
		if err != nil || res.Stored != 2 {
			t.Fatalf("append while down = %+v, %v", res, err)
		}
	}
	if spool.Pending() != 6 {
		t.Fatalf("spool pending = %d, want 6", spool.Pending())
	}
	// The bus is back (the gateway reconnected): replay.
	p.Bus = up
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	go p.Run(rctx, 20*time.Millisecond)
	var ids []string
	err = up.Read(rctx, 0, 0, ReadOptions{MaxWait: 50 * time.Millisecond}, func(ctx context.Context, msgs []Message) error {
		for _, m := range msgs {
			ids = append(ids, m.Access.ID)
		}
		if len(ids) >= 6 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"e-000", "e-001", "e-002", "e-003", "e-004", "e-005"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("stream after replay = %v, want %v", ids, want)
	}
}
