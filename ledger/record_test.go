package ledger

import (
	"encoding/json"
	"testing"
)

func TestRecordEncoding(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"plain", Record{Kind: "access", ID: "e-1", Seq: 7, Event: json.RawMessage(`{"a": 1, "b":[1, 2]}`)},
			`{"v":1,"kind":"access","seq":7,"id":"e-1","event":{"a":1,"b":[1,2]}}`},
		{"escaped id", Record{Kind: "login", ID: `q"\<`, Event: json.RawMessage(`{}`)},
			`{"v":1,"kind":"login","seq":0,"id":"q\"\\<","event":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rec.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Encode = %s, want %s", got, tt.want)
			}
			back, err := DecodeRecord(got)
			if err != nil {
				t.Fatal(err)
			}
			h, err := parseHead(got)
			if err != nil || h.ID != tt.rec.ID || h.Kind != tt.rec.Kind || h.Seq != tt.rec.Seq || back.ID != tt.rec.ID {
				t.Fatalf("round trip: %+v %+v %v", back, h, err)
			}
		})
	}
	for _, bad := range []Record{{Kind: "access", Event: json.RawMessage(`{}`)}, {Kind: "access", ID: "x", Event: json.RawMessage(`{`)}} {
		if _, err := bad.Encode(); err == nil {
			t.Errorf("Encode(%+v) accepted a bad record", bad)
		}
	}
	if _, err := DecodeRecord([]byte(`{"v":1,"seq":1,"kind":"access","id":"x","event":{}}`)); err == nil {
		t.Error("DecodeRecord accepted fields out of canonical order")
	}
}

// FuzzRecord checks that parseHead, which Verify runs on every entry,
// never panics and agrees with the full decoder on canonical records.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"kind":"access","seq":7,"id":"e-1","event":{"a":1}}`))
	f.Add([]byte(`{"v":1,"kind":"login","seq":0,"id":"q\"\\<","event":{}}`))
	f.Add([]byte(`{"v":1,"kind":"access","seq":-1,"id":"","event":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, herr := parseHead(data)
		r, derr := DecodeRecord(data)
		if derr != nil {
			return
		}
		if herr != nil {
			t.Fatalf("canonical record %q: parseHead failed: %v", data, herr)
		}
		if h.ID != r.ID || h.Kind != r.Kind || h.Seq != r.Seq {
			t.Fatalf("parseHead %+v, DecodeRecord %+v", h, r)
		}
		again, err := r.Encode()
		if err != nil || string(again) != string(data) {
			t.Fatalf("re-encode %q -> %q (%v)", data, again, err)
		}
	})
}
