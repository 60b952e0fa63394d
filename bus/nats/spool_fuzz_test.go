package nats

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenSpool feeds arbitrary bytes as a spool file: opening must never
// panic, must keep only whole records, and appending after it must give a
// spool that reopens with exactly one more record's envelopes.
func FuzzOpenSpool(f *testing.F) {
	rec := func(envs []Envelope) []byte {
		body, _ := json.Marshal(envs)
		b := make([]byte, 8, 8+len(body))
		binary.BigEndian.PutUint32(b[:4], uint32(len(body)))
		binary.BigEndian.PutUint32(b[4:8], crc32.ChecksumIEEE(body))
		return append(b, body...)
	}
	one := rec([]Envelope{{Kind: KindAccess, ID: "e-1", Actor: "emp-1", Data: json.RawMessage(`{"id":"e-1"}`)}})
	f.Add([]byte{})
	f.Add(one)
	f.Add(append(one, one[:5]...))
	f.Add(append(append([]byte{}, one...), 0, 0, 0, 3, 1, 2, 3, 4, '[', ']', '0'))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, spoolFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSpool(dir)
		if err != nil {
			t.Fatal(err)
		}
		before := s.Pending()
		if err := s.Append([]Envelope{{Kind: KindLogin, ID: "x", Actor: "a", Data: json.RawMessage(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = OpenSpool(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Pending() != before+1 {
			t.Fatalf("pending %d after appending one to %d", s.Pending(), before)
		}
		var got []string
		if err := s.Drain(context.Background(), func(_ context.Context, envs []Envelope) error {
			for _, e := range envs {
				got = append(got, e.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != before+1 || got[len(got)-1] != "x" {
			t.Fatalf("drained %v", got)
		}
	})
}
