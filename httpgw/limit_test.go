package httpgw

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
)

// limitMux serves record lists in every shape the gateway counts.
func limitMux() *http.ServeMux {
	mux := appMux() // GET /search?n=: {"total":n,"items":[…]}
	mux.HandleFunc("GET /array", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, []any{passenger(0), passenger(1), passenger(2), passenger(3)})
	})
	mux.HandleFunc("GET /one", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, passenger(0))
	})
	mux.HandleFunc("GET /two-lists", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"a": []any{passenger(0)}, "b": []any{passenger(1), passenger(2)}, "c": []any{passenger(3)}})
	})
	mux.HandleFunc("GET /stream.ndjson", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for i := range 5 {
			enc.Encode(passenger(i))
		}
	})
	mux.HandleFunc("GET /manifest.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprint(w, "name,idno,phone\r\n")
		for i := range 4 {
			fmt.Fprintf(w, "张伟明,%s,%s\r\n", cnID(i), mobile(i))
		}
	})
	mux.HandleFunc("GET /list.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<table>")
		for i := range 4 {
			fmt.Fprintf(w, "<tr><td>%s</td></tr>", cnID(i))
		}
		fmt.Fprint(w, "</table>")
	})
	return mux
}

// TestLimitCutsRecords: a limit decision (clerk-cap: 2 records) cuts JSON
// record arrays, NDJSON lines and CSV rows to the limit, says so in
// Custos-Limited, keeps the document valid, and the event counts only
// what was released.
func TestLimitCutsRecords(t *testing.T) {
	h := newHarness(t, limitMux())
	for _, tc := range []struct {
		path    string
		limited string // Custos-Limited, "" when nothing is cut
		kept    []int  // passenger serials that reach the client
		gone    []int  // and those that must not
		records int64
	}{
		{"/search?n=5", "2 of 5", []int{0, 1}, []int{2, 3, 4}, 2},
		// No catalogue entry: every identifier is a subject (two ids, and
		// the mobiles of passengers 0, 1 and 2 in their fields and notes).
		{"/array", "2 of 4", []int{0, 1}, []int{2, 3}, 5},
		{"/two-lists", "2 of 4", []int{0, 1}, []int{2, 3}, 5},
		{"/stream.ndjson", "2 of 5", []int{0, 1}, []int{2, 3, 4}, 5},
		{"/manifest.csv", "2 of 4", []int{0, 1}, []int{2, 3}, 4}, // no subject key for CSV: id and phone per row
		{"/search?n=2", "", []int{0, 1}, nil, 2},
		// One object, three identifiers (no catalogue): one record.
		{"/one", "", []int{0}, nil, 3},
	} {
		t.Run(tc.path, func(t *testing.T) {
			actor := "clerk-" + strings.NewReplacer("/", "", "?", "", "=", "", ".", "").Replace(tc.path)
			r := h.get(tc.path, actor, "clerk")
			body := readAll(t, r.Body)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", r.StatusCode, body)
			}
			if got := r.Header.Get("Custos-Limited"); got != tc.limited {
				t.Errorf("Custos-Limited %q, want %q", got, tc.limited)
			}
			if r.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d for %d bytes", r.ContentLength, len(body))
			}
			switch {
			case strings.HasSuffix(tc.path, ".csv"):
				rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
				if err != nil || len(rows) != 1+len(tc.kept) {
					t.Fatalf("CSV out: %d rows, %v: %q", len(rows), err, body)
				}
			default:
				if _, err := decodeAll([]byte(body)); err != nil {
					t.Fatalf("invalid JSON out: %v: %s", err, body)
				}
			}
			// Masked ID numbers keep their last four characters: they show
			// whether a passenger's record is there.
			for _, i := range tc.kept {
				if !strings.Contains(body, cnID(i)[14:]) {
					t.Errorf("passenger %d missing: %s", i, body)
				}
			}
			for _, i := range tc.gone {
				if strings.Contains(body, cnID(i)[14:]) {
					t.Errorf("passenger %d beyond the limit released: %s", i, body)
				}
			}
			mustContainNone(t, body, cnID(0), mobile(0))
			ev := h.lastEvent(actor)
			if ev.Records != tc.records || !slices.Contains(ev.Rules, "clerk-cap") {
				t.Errorf("event records %d rules %v", ev.Records, ev.Rules)
			}
			if limited := slices.Contains(ev.Rules, "limited"); limited != (tc.limited != "") {
				t.Errorf("event rules %v: limited should be %v", ev.Rules, tc.limited != "")
			}
			hashes := map[string]bool{}
			for _, s := range ev.Subjects {
				hashes[s.Hash] = true
			}
			for _, i := range tc.gone {
				if hid, _ := h.index.Hash("cn_id", cnID(i)); hashes[hid] {
					t.Errorf("event names passenger %d, who was cut", i)
				}
			}
		})
	}
}

// TestLimitThenQuota: quotas count only the records released after a
// cut, and a quota refusal after a cut says quota, not limit.
func TestLimitThenQuota(t *testing.T) {
	h := newHarness(t, limitMux())
	// Quota: 6 distinct passengers; each page of 5 is cut to 2.
	for _, off := range []int{0, 2, 4} {
		r := h.get(fmt.Sprintf("/search?n=5&off=%d", off), "clerk-quota", "clerk")
		if r.StatusCode != http.StatusOK || r.Header.Get("Custos-Limited") != "2 of 5" {
			t.Fatalf("page at %d: status %d, limited %q (subjects beyond the cut counted?)", off, r.StatusCode, r.Header.Get("Custos-Limited"))
		}
	}
	r := h.get("/search?n=5&off=6", "clerk-quota", "clerk")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(body, `"denied"`) || !strings.Contains(body, "quota:clerk-subjects") {
		t.Fatalf("over quota: status %d: %s", r.StatusCode, body)
	}
	if r.Header.Get("Custos-Limited") != "" {
		t.Errorf("refusal carries Custos-Limited")
	}
}

// TestLimitRefusesWhatCannotBeCut: an HTML page over the limit is refused
// whole (403 limited), never released.
func TestLimitRefusesWhatCannotBeCut(t *testing.T) {
	h := newHarness(t, limitMux())
	r := h.get("/list.html", "clerk-html", "clerk")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(body, `"limited"`) || !strings.Contains(body, "limits this access to 2 records") {
		t.Fatalf("status %d: %s", r.StatusCode, body)
	}
	mustContainNone(t, body, cnID(0), cnID(3))
	ev := h.lastEvent("clerk-html")
	if ev.Decision != custos.DecisionDeny || !slices.Contains(ev.Rules, "limited") || ev.Outcome != custos.OutcomeFailure {
		t.Errorf("event %s %v %s", ev.Decision, ev.Rules, ev.Outcome)
	}
}

// TestLimitStreamedRefused: a response too large to hold whole cannot be
// counted before its first byte, so a limit refuses it cleanly (403 with
// headers, not a cut stream).
func TestLimitStreamedRefused(t *testing.T) {
	h := newHarness(t, limitMux(), func(c *Config, d *Deps) { c.MaxBufferBytes = 1024 })
	r := h.get("/search?n=40", "clerk-big", "clerk")
	body := readAll(t, r.Body)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(body, `"limited"`) {
		t.Fatalf("status %d: %s", r.StatusCode, body)
	}
	mustContainNone(t, body, cnID(0))
	if ev := h.lastEvent("clerk-big"); !slices.Contains(ev.Rules, "limited") {
		t.Errorf("rules %v", ev.Rules)
	}
}

// TestLimitCurl: curl sees the header and a valid, shorter document.
func TestLimitCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	h := newHarness(t, limitMux())
	out, err := exec.Command(curl, "-sS", "-D", "-", "--compressed", "-H", "X-Remote-User: clerk-curl", "-H", "X-Remote-Roles: clerk",
		h.srv.URL+"/search?n=4").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	head, body, _ := strings.Cut(string(out), "\r\n\r\n")
	if !strings.Contains(head, "Custos-Limited: 2 of 4") {
		t.Fatalf("headers: %s", head)
	}
	var doc struct {
		Total int   `json:"total"`
		Items []any `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Items) != 2 || doc.Total != 4 {
		t.Fatalf("body %v: %s", err, body)
	}
}
