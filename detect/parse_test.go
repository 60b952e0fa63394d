package detect

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBreachedStoreRangeFile(t *testing.T) {
	// SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
	rangeFile := "1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\n011053FD0102E94D6AE2F8B83D76FAF94F6:1\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\n"
	b := NewBreachedStore()
	n, err := b.ImportRange("5baa6", strings.NewReader(rangeFile))
	if err != nil || n != 2 {
		t.Fatalf("import: n=%d err=%v", n, err)
	}
	tests := []struct {
		fp   string
		want bool
	}{
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8", true},
		{"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", true},
		{"5BAA600D4F6E8FA6EECAD2A3AA415EEC418D38EC", false}, // padding line
		{"5BAA71E4C9B93F3F0682250B6CF8331B7EE68FD8", false},
		{"short", false},
	}
	for _, tc := range tests {
		if got := b.Breached(tc.fp); got != tc.want {
			t.Errorf("Breached(%s) = %v, want %v", tc.fp, got, tc.want)
		}
	}
	for _, bad := range []string{"XYZ:1\n", "1E4C9B93F3F0682250B6CF8331B7EE68FD8\n"} {
		if _, err := b.ImportRange("5BAA6", strings.NewReader(bad)); err == nil {
			t.Errorf("accepted malformed line %q", bad)
		}
	}
	if _, err := b.ImportRange("5BAA", strings.NewReader("")); err == nil {
		t.Error("accepted a 4-character prefix")
	}
}

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name, line string
		login      bool
		wantErr    bool
	}{
		{"access", `{"id":"a1","time":"2026-03-02T09:00:00Z","actor":{"id":"e1"},"channel":"http","action":"read","resource":{"system":"res"},"records":1}`, false, false},
		{"login", `{"id":"l1","time":"2026-03-02T09:00:00Z","account":"e1","outcome":"failure"}`, true, false},
		{"neither", `{"id":"x"}`, false, true},
		{"no time", `{"id":"l1","account":"e1"}`, true, true},
		{"not json", `13812345678`, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tc.line))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (ev.Login != nil) != tc.login {
				t.Fatalf("login = %v, want %v", ev.Login != nil, tc.login)
			}
			if err != nil && strings.Contains(err.Error(), "13812345678") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"id":"a1","time":"2026-03-02T09:00:00Z","actor":{"id":"e1"},"action":"read","subjects":[{"type":"cn_id","value":"11010519491231002X"}]}`))
	f.Add([]byte(`{"id":"l1","time":"2026-03-02T09:00:00Z","account":"e1","outcome":"failure"}`))
	f.Add([]byte(`{"actor":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvent(b)
		if err != nil {
			if bytes.Contains(b, []byte("11010519491231002X")) && strings.Contains(err.Error(), "11010519491231002X") {
				t.Fatalf("error quotes a value: %v", err)
			}
			return
		}
		if ev.Access != nil {
			for _, s := range ev.Access.Subjects {
				if s.Value != "" {
					t.Fatal("raw subject value survived decoding")
				}
			}
			New(DefaultConfig()).ProcessAccess(ev.Access)
		}
		if ev.Login != nil {
			New(DefaultConfig()).ProcessLogin(ev.Login)
		}
	})
}

func FuzzImportRange(f *testing.F) {
	f.Add("5BAA6", "1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\n")
	f.Add("00000", "\n\nzz:1")
	f.Fuzz(func(t *testing.T, prefix, body string) {
		b := NewBreachedStore()
		n, err := b.ImportRange(prefix, strings.NewReader(body))
		if err == nil && n == 1 && !strings.Contains(strings.TrimSpace(body), "\n") {
			// What was imported must be found again.
			line := strings.TrimSpace(body)
			suffix, _, _ := strings.Cut(line, ":")
			if !b.Breached(strings.ToUpper(strings.TrimSpace(prefix)) + suffix) {
				t.Fatalf("imported suffix not found")
			}
		}
	})
}

func TestRelationTable(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := NewRelationTable()
	r.Add("a1", "h1", at.Add(time.Hour))
	r.Add("a1", "h2", time.Time{})
	tests := []struct {
		actor, hash string
		at          time.Time
		want        bool
	}{
		{"a1", "h1", at, true},
		{"a1", "h1", at.Add(2 * time.Hour), false},
		{"a2", "h1", at, false},
		{"a1", "h2", at.AddDate(5, 0, 0), true},
	}
	for _, tc := range tests {
		if got := r.Related(tc.actor, "cn_id", tc.hash, tc.at); got != tc.want {
			t.Errorf("Related(%s, %s, %v) = %v, want %v", tc.actor, tc.hash, tc.at, got, tc.want)
		}
	}
	if n := r.Prune(at.Add(2 * time.Hour)); n != 1 || r.Len() != 1 {
		t.Fatalf("pruned %d, left %d", n, r.Len())
	}
}

// TestReadNDJSONOrderAndErrors checks the parallel reader across many
// chunks: events arrive in file order, a bad line is named by its number
// (blank lines counted), and an error from fn stops the read.
func TestReadNDJSONOrderAndErrors(t *testing.T) {
	const n = 3*linesPerChunk + 17
	var file bytes.Buffer
	for i := range n {
		if i%100 == 0 {
			file.WriteString("\n") // blank lines count in line numbers
		}
		file.WriteString(`{"id":"e-` + strings.Repeat("0", 5-len(itoa(i))) + itoa(i) + `","time":"2026-03-02T09:00:00Z","actor":{"id":"a"},"action":"read","resource":{"system":"pss"}}` + "\n")
	}
	var ids []string
	if err := ReadNDJSON(bytes.NewReader(file.Bytes()), func(ev Event) error {
		ids = append(ids, ev.Access.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != n {
		t.Fatalf("read %d events, want %d", len(ids), n)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("out of order at %d: %s after %s", i, ids[i], ids[i-1])
		}
	}

	lines := strings.Split(file.String(), "\n")
	lines[1500] = `{"id":"bad","time":"2026-03-02T09:00:00Z","actor":{"id":13800138000}}`
	err := ReadNDJSON(strings.NewReader(strings.Join(lines, "\n")), func(Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 1501:") || strings.Contains(err.Error(), "13800138000") {
		t.Errorf("bad line: %v (want line 1501 named, value not quoted)", err)
	}

	stop := errStop("stop")
	seen := 0
	err = ReadNDJSON(bytes.NewReader(file.Bytes()), func(Event) error {
		seen++
		if seen == 10 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 10 {
		t.Errorf("fn error: got %v after %d events, want stop after 10", err, seen)
	}
}

type errStop string

func (e errStop) Error() string { return string(e) }

func itoa(i int) string { return strconv.Itoa(i) }
