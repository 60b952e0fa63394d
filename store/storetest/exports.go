package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/export"
)

// ExportStore is what RunExports needs of a store: the event store, the
// export registry and the look-ups a leak trace makes.
type ExportStore interface {
	custos.EventStore
	export.Registry
	ExportCanaries(ctx context.Context) ([]custos.Subject, error)
	ExportSubjectCount(ctx context.Context, id string) (subjects, canaries int, err error)
	ExportsByID(ctx context.Context, ids []string) ([]export.Export, error)
	ExportHolders(ctx context.Context, keys []export.Key, fn func(i int, exportID string, canary bool)) error
	SubjectSightings(ctx context.Context, keys []export.Key, fn func(i int, s export.Sighting)) error
	EventIDs(ctx context.Context, seqs []int64) (map[int64]string, error)
}

// RunExports checks an export registry and the trace look-ups (export.Registry
// and trace.Source) of a store; open returns an empty store.
func RunExports(t *testing.T, open func(t *testing.T) ExportStore) {
	t.Run("Registry", func(t *testing.T) { testExportRegistry(t, open(t)) })
	t.Run("SubjectSightings", func(t *testing.T) { testSubjectSightings(t, open(t)) })
}

func testExportRegistry(t *testing.T, s ExportStore) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	mk := func(id, actor string, at time.Time, subs ...string) export.Export {
		e := export.Export{ID: id, Actor: actor, Time: at, Channel: custos.ChannelHTTP, System: "crm", Format: "csv",
			Fields: []string{"name", "phone"}, Rows: len(subs)}
		for _, h := range subs {
			e.Subjects = append(e.Subjects, custos.Subject{Type: "cn_mobile", Hash: h})
		}
		return e
	}
	a := mk("x1", "alice", t0, "h1", "h2")
	a.Canaries = []custos.Subject{{Type: "cn_mobile", Hash: "c1"}}
	a.Watermark = export.Watermark{Order: true, Variants: []export.Variant{export.VariantPhone}}
	b := mk("x2", "bob", t0.Add(time.Hour), "h2", "h3")
	for _, e := range []export.Export{a, b, a} { // a twice: idempotent
		if err := s.RegisterExport(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RegisterExport(ctx, export.Export{ID: "bad", Actor: "x", Time: t0,
		Subjects: []custos.Subject{{Type: "cn_mobile", Value: "13800138000"}}}); !errors.Is(err, custos.ErrUnsealed) {
		t.Fatalf("unsealed export: got %v", err)
	}

	got, err := s.Export(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Actor != "alice" || !got.Watermark.Order || len(got.Watermark.Variants) != 1 || !got.Time.Equal(t0) {
		t.Fatalf("Export(x1) = %+v", got)
	}
	if c, err := s.ExportCanaries(ctx); err != nil || len(c) != 1 || c[0].Hash != "c1" {
		t.Fatalf("ExportCanaries = %v, %v", c, err)
	}
	if n, c, err := s.ExportSubjectCount(ctx, "x1"); err != nil || n != 2 || c != 1 {
		t.Fatalf("ExportSubjectCount = %d, %d, %v", n, c, err)
	}
	if byID, err := s.ExportsByID(ctx, []string{"x1", "nope", "x2"}); err != nil || len(byID) != 2 {
		t.Fatalf("ExportsByID = %v, %v", byID, err)
	}
	if _, err := s.Export(ctx, "nope"); !errors.Is(err, custos.ErrNotFound) {
		t.Fatalf("unknown export: %v", err)
	}

	list, err := s.ListExports(ctx, export.Query{})
	if err != nil || len(list) != 2 || list[0].ID != "x2" {
		t.Fatalf("ListExports = %v, %v", list, err)
	}
	list, err = s.ListExports(ctx, export.Query{Actor: "alice"})
	if err != nil || len(list) != 1 || list[0].ID != "x1" {
		t.Fatalf("ListExports(alice) = %v, %v", list, err)
	}
	by, err := s.ExportsBySubject(ctx, "cn_mobile", "h2")
	if err != nil || len(by) != 2 || by[0].ID != "x2" || by[1].ID != "x1" {
		t.Fatalf("ExportsBySubject(h2) = %v, %v", by, err)
	}
	by, err = s.ExportsBySubject(ctx, "cn_mobile", "c1")
	if err != nil || len(by) != 1 || by[0].ID != "x1" {
		t.Fatalf("ExportsBySubject(canary) = %v, %v", by, err)
	}

	keys := []export.Key{export.KeyOf("cn_mobile", "h1"), export.KeyOf("cn_mobile", "h2"), export.KeyOf("cn_mobile", "c1"), export.KeyOf("cn_mobile", "none")}
	holders := map[int][]string{}
	canaries := 0
	if err := s.ExportHolders(ctx, keys, func(i int, id string, canary bool) {
		holders[i] = append(holders[i], id)
		if canary {
			canaries++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(holders[0]) != 1 || len(holders[1]) != 2 || len(holders[2]) != 1 || len(holders[3]) != 0 || canaries != 1 {
		t.Fatalf("ExportHolders = %v (canaries %d)", holders, canaries)
	}
}

func testSubjectSightings(t *testing.T, s ExportStore) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	ev := func(id, actor string, hashes ...string) custos.AccessEvent {
		e := custos.AccessEvent{ID: id, Time: t0, Actor: custos.Actor{ID: actor}, Channel: custos.ChannelHTTP,
			Action: custos.ActionRead, Resource: custos.Resource{System: "crm"}, Records: 1}
		for _, h := range hashes {
			e.Subjects = append(e.Subjects, custos.Subject{Type: "cn_id", Hash: h})
		}
		return e
	}
	if _, err := s.AppendAccess(ctx, []custos.AccessEvent{ev("e1", "alice", "p1", "p2"), ev("e2", "bob", "p2")}); err != nil {
		t.Fatal(err)
	}
	// More keys than one batch, most unknown.
	keys := make([]export.Key, 1200)
	for i := range keys {
		keys[i] = export.KeyOf("cn_id", "unknown"+string(rune('a'+i%26))+string(rune(i)))
	}
	keys[3] = export.KeyOf("cn_id", "p1")
	keys[777] = export.KeyOf("cn_id", "p2")
	seen := map[int][]string{}
	var seqs []int64
	if err := s.SubjectSightings(ctx, keys, func(i int, sg export.Sighting) {
		seen[i] = append(seen[i], sg.Actor)
		seqs = append(seqs, sg.Seq)
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || len(seen[3]) != 1 || seen[3][0] != "alice" || len(seen[777]) != 2 {
		t.Fatalf("SubjectSightings = %v", seen)
	}
	ids, err := s.EventIDs(ctx, seqs)
	if err != nil || len(ids) != 2 {
		t.Fatalf("EventIDs = %v, %v", ids, err)
	}
}
