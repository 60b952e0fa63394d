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
	var hexEntities strings.Builder
	for _, c := range []byte(phone) {
		fmt.Fprintf(&hexEntities, "&#x%x;", c)
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
		{"html split by tags", html, `<td>138<b>1234</b>5678</td>`, `<b>1234</b>5678`, true},
		{"html split by nested inline tags", html, `<td><span>138</span><i>12<b>34</b></i>5678</td>`, `34</b></i>5678`, true},
		{"html split by a comment", html, `<td>138<!-- -->12345678</td>`, `12345678`, true},
		{"html split across cells", html, `<td>138</td><td>12345678</td>`, `12345678`, false},
		{"html character references", html, `<td>` + entities.String() + `</td>`, entities.String(), true},
		{"html hex character references", html, `<td>` + hexEntities.String() + `</td>`, hexEntities.String(), true},
		{"html references without semicolons", html, `<td>` + strings.ReplaceAll(entities.String(), ";", "") + `</td>`, strings.ReplaceAll(entities.String(), ";", ""), true},
		{"html named reference in an e-mail", html, `<td>zhang.wei&commat;example.com</td>`, `zhang.wei&commat;`, true},
		{"html references in an attribute", html, `<input value="` + entities.String() + `">`, entities.String(), true},
		{"html references split by tags", html, `<td>&#49;&#51;&#56;<b>1234</b>5678</td>`, `<b>1234</b>5678`, true},
		{"html url-encoded link", html, `<a href="/p?m=` + url.QueryEscape(id) + `&x=` + pct.String() + `">`, pct.String(), true},
		{"html url-encoded path segment", html, `<a href="/p/` + pct.String() + `/view">`, pct.String(), true},
		{"html url-encoded text", html, `<td>` + pct.String() + `</td>`, pct.String(), true},
		{"html base64 text", html, `<td>` + b64 + `</td>`, b64, true},
		{"html base64 attribute", html, `<tr data-k="` + b64 + `">`, b64, true},
		{"html base64 query parameter", html, `<a href="/p?k=` + b64 + `">`, b64, true},
		{"html inside a script", html, `<script>var m = "` + phone + `";</script>`, phone, true},
		{"html references inside a script", html, `<script>var m = "` + entities.String() + `";</script>`, entities.String(), false},
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
