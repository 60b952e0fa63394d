package sqlite

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/store/storetest"
)

// TestDecodeDocMatchesEncodingJSON: documents the store wrote with
// encoding/json decode with decodeDoc to what encoding/json gives, time
// offsets and empty-versus-nil slices included, so that every answer and
// the ledger's entries (re-derived from decoded events) encode the same.
// Re-encodings are compared: a time whose offset equals the machine's
// own may come back as Local from one decoder and as a fixed zone from
// the other, the same instant written the same way.
func TestDecodeDocMatchesEncodingJSON(t *testing.T) {
	east := time.FixedZone("", 8*3600)
	full := storetest.Access("d-1", time.Date(2026, 11, 28, 18, 0, 0, 123456789, east), "emp-1", "11010119900307123X")
	full.Subjects[0].Value, full.Subjects[0].Hash, full.Subjects[0].Masked = "", "ab12", "110***********123X"
	full.Actor.Attributes = map[string]string{"site": "PEK <&>"}
	full.DataTypes = []string{}
	full.DurationUS = 1500
	for _, e := range []custos.AccessEvent{full, {ID: "d-2", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}} {
		doc, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var want, got custos.AccessEvent
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeDoc(doc, &got); err != nil {
			t.Fatalf("decodeDoc(%s): %v", doc, err)
		}
		if g, w := mustJSON(t, got), mustJSON(t, want); g != w || len(got.DataTypes) != len(want.DataTypes) || (got.DataTypes == nil) != (want.DataTypes == nil) {
			t.Errorf("decodeDoc(%s)\n got %s\nwant %s", doc, g, w)
		}
	}
	l := storetest.Login("l-1", time.Date(2026, 11, 28, 18, 0, 0, 0, east), "emp-1")
	doc, _ := json.Marshal(l)
	var want, got custos.LoginEvent
	json.Unmarshal(doc, &want)
	if err := decodeDoc(doc, &got); err != nil || mustJSON(t, got) != mustJSON(t, want) {
		t.Errorf("login: got %#v (%v), want %#v", got, err, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
