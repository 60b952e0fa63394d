package httpgw

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	xhtml "golang.org/x/net/html"

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
		fmt.Fprint(w, "<html><body><h1>Passengers</h1><table><thead><tr><th>ID</th><th>Name</th></tr></thead><tbody>")
		for i := range 4 {
			fmt.Fprintf(w, "<tr class=\"p\"><td>%s</td><td>张伟明</td></tr>", cnID(i))
		}
		fmt.Fprint(w, "</tbody></table><p>4 passengers</p></body></html>")
	})
	// A layout table around the real one, rows whose end tags are implied.
	mux.HandleFunc("GET /layout.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<table><tr><td>menu</td><td><table>")
		for i := range 4 {
			fmt.Fprintf(w, "<tr><td>%s<td><a href=\"/p/%d\">open</a>", cnID(i), i)
		}
		fmt.Fprint(w, "</table></td></tr></table>")
	})
	mux.HandleFunc("GET /items.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<ul><li>search help</li>")
		for i := range 4 {
			fmt.Fprintf(w, "<li><b>张伟明</b> <span title=\"%s\">ID</span></li>", cnID(i))
		}
		fmt.Fprint(w, "</ul>")
	})
	// Records that are not rows: nothing the gateway can cut.
	mux.HandleFunc("GET /para.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for i := range 4 {
			fmt.Fprintf(w, "<p>%s</p>", cnID(i))
		}
	})
	mux.HandleFunc("GET /manifest.xlsx", func(w http.ResponseWriter, r *http.Request) {
		f := excelize.NewFile()
		defer f.Close()
		f.SetSheetName("Sheet1", "Manifest")
		rows := [][]any{{"姓名", "身份证号", "手机号", "座位"}}
		for i := range 4 {
			rows = append(rows, []any{"张伟明", cnID(i), mobile(i), "12A"})
		}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			f.SetSheetRow("Manifest", cell, &row)
		}
		// A sheet without personal data is kept whole.
		f.NewSheet("Flights")
		for i := range 5 {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			f.SetSheetRow("Flights", cell, &[]any{"CA1234", i})
		}
		w.Header().Set("Content-Type", xlsxType)
		f.Write(w)
	})
	return mux
}

// zipText is every part of a ZIP (an XLSX) decompressed and joined, to
// look for values anywhere in the file.
func zipText(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	var sb strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&sb, rc)
		rc.Close()
	}
	return sb.String()
}

// htmlBalanced checks that every table, row, cell, list and item the
// document opens is closed in order (end tags the parser implies count
// as closed), i.e. a cut removed whole elements.
func htmlBalanced(doc string) error {
	z := xhtml.NewTokenizer(strings.NewReader(doc))
	var stack []string
	implied := map[string][]string{"tr": {"tr", "td", "th"}, "td": {"td", "th"}, "th": {"td", "th"}, "li": {"li"}}
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		name, _ := z.TagName()
		n := string(name)
		switch n {
		case "table", "thead", "tbody", "tr", "td", "th", "ul", "ol", "li":
		default:
			continue
		}
		switch tt {
		case xhtml.StartTagToken:
			for len(stack) > 0 && slices.Contains(implied[n], stack[len(stack)-1]) {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, n)
		case xhtml.EndTagToken:
			for len(stack) > 0 && stack[len(stack)-1] != n && slices.Contains([]string{"td", "th", "tr", "li"}, stack[len(stack)-1]) {
				stack = stack[:len(stack)-1]
			}
			if len(stack) == 0 || stack[len(stack)-1] != n {
				return fmt.Errorf("</%s> closes %v", n, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	for _, n := range stack {
		if !slices.Contains([]string{"td", "th", "tr", "li"}, n) {
			return fmt.Errorf("<%s> left open", n)
		}
	}
	return nil
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
		{"/manifest.xlsx", "2 of 4", []int{0, 1}, []int{2, 3}, 4},
		{"/list.html", "2 of 4", []int{0, 1}, []int{2, 3}, 2},
		{"/layout.html", "2 of 4", []int{0, 1}, []int{2, 3}, 2},
		{"/items.html", "2 of 4", []int{0, 1}, []int{2, 3}, 2},
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
			case strings.HasSuffix(tc.path, ".xlsx"):
				f, err := excelize.OpenReader(strings.NewReader(body))
				if err != nil {
					t.Fatalf("cut workbook does not open: %v", err)
				}
				defer f.Close()
				rows, _ := f.GetRows("Manifest")
				flights, _ := f.GetRows("Flights")
				if len(rows) != 1+len(tc.kept) || rows[0][1] != "身份证号" || len(flights) != 5 {
					t.Fatalf("sheets: manifest %q, flights %d rows", rows, len(flights))
				}
				// Every part of the file, shared strings included: what was
				// cut must not be anywhere in it.
				body = zipText(t, []byte(body))
			case strings.HasSuffix(tc.path, ".html"):
				if err := htmlBalanced(body); err != nil {
					t.Fatalf("cut page: %v: %s", err, body)
				}
				if !strings.Contains(body, "</body></html>") && tc.path == "/list.html" {
					t.Errorf("page end lost: %s", body)
				}
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

// TestLimitRefusesWhatCannotBeCut: an HTML page whose records are not in
// table rows or list items is refused whole (403 limited), never released.
func TestLimitRefusesWhatCannotBeCut(t *testing.T) {
	h := newHarness(t, limitMux())
	r := h.get("/para.html", "clerk-html", "clerk")
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
