package httpgw

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// bypassCase is one way an application (or an insider who controls what
// it renders) might carry personal data past the gateway. leak is the
// text that must not reach the client when caught is true; when caught is
// false the test proves the gap still exists, so that docs/httpgw.md
// (which lists these cases) stays true.
type bypassCase struct {
	name        string
	contentType string
	body        string
	leak        string
	caught      bool
}

func bypassCases() []bypassCase {
	const phone = "13812345678"
	id := cnID(5)
	fullWidth := "１３８１２３４５６７８"
	var unicodeEscaped strings.Builder
	for _, r := range phone {
		fmt.Fprintf(&unicodeEscaped, `\u%04x`, r)
	}
	var pct strings.Builder
	for _, c := range []byte(phone) {
		fmt.Fprintf(&pct, "%%%02X", c)
	}
	var entities strings.Builder
	for _, c := range []byte(phone) {
		fmt.Fprintf(&entities, "&#%d;", c)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(phone))
	xid := id
	for i := 0; !strings.HasSuffix(xid, "X"); i++ {
		xid = cnID(i)
	}
	js, html := "application/json", "text/html; charset=utf-8"
	return []bypassCase{
		{"json string value", js, `{"v":"` + phone + `"}`, phone, true},
		{"json free text", js, `{"note":"call ` + phone + ` after 6pm"}`, phone, true},
		{"json number", js, `{"v":` + phone + `}`, phone, true},
		{"json unicode escapes", js, `{"v":"` + unicodeEscaped.String() + `"}`, unicodeEscaped.String(), true},
		{"json full-width digits", js, `{"v":"` + fullWidth + `"}`, fullWidth, true},
		{"json separators", js, `{"v":"138-1234-5678"}`, "1234-5678", true},
		{"json base64", js, `{"blob":"` + b64 + `"}`, b64, true},
		{"json url-encoded", js, `{"q":"` + pct.String() + `"}`, pct.String(), true},
		{"json id lower-case x", js, `{"v":"` + strings.ToLower(xid) + `"}`, strings.ToLower(xid)[6:14], true},
		{"json id in a member name", js, `{"` + id + `":true}`, id, false},
		{"json split across fields", js, `{"a":"138","b":"1234","c":"5678"}`, `"1234"`, false},
		{"json reversed digits", js, `{"v":"87654321831"}`, "87654321831", false},
		{"json zero-width joiners", js, `{"v":"138\u200b1234\u200b5678"}`, `1234\u200b5678`, false},
		{"html text", html, `<p>手机 ` + phone + `</p>`, phone, true},
		{"html attribute value", html, `<input name="m" value="` + phone + `">`, phone, true},
		{"html data attribute", html, `<tr data-id="` + id + `">`, id, true},
		{"html full-width digits", html, `<td>` + fullWidth + `</td>`, fullWidth, true},
		{"html split by tags", html, `<td>138<b>1234</b>5678</td>`, `<b>1234</b>5678`, false},
		{"html character references", html, `<td>` + entities.String() + `</td>`, entities.String(), false},
		{"html url-encoded link", html, `<a href="/p?m=` + url.QueryEscape(id) + `&x=` + pct.String() + `">`, pct.String(), false},
		{"html base64", html, `<td>` + b64 + `</td>`, b64, false},
		{"csv cell", "text/csv", "name,phone\n张三," + phone + "\n", phone, true},
		{"plain text", "text/plain", "phone: " + phone, phone, true},
	}
}

func TestBypassSuite(t *testing.T) {
	cases := bypassCases()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /case/{i}", func(w http.ResponseWriter, r *http.Request) {
		var i int
		fmt.Sscan(r.PathValue("i"), &i)
		w.Header().Set("Content-Type", cases[i].contentType)
		fmt.Fprint(w, cases[i].body)
	})
	h := newHarness(t, mux)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get(fmt.Sprintf("/case/%d", i), "ana-bypass", "analyst")
			body := readAll(t, r.Body)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			leaked := strings.Contains(body, tc.leak)
			switch {
			case tc.caught && leaked:
				t.Errorf("not caught any more: %s", body)
			case !tc.caught && !leaked:
				t.Errorf("now caught: update the case and docs/httpgw.md (%s)", body)
			}
		})
	}
}
