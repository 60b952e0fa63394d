package export_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/trace"
)

func TestHandler(t *testing.T) {
	x, _ := blind.New(make([]byte, blind.KeySize))
	reg := trace.NewMemory()
	var listed []string
	h := &export.Handler{Registry: reg, Hash: x.Hash, OnRegister: func(e export.Export) { listed = append(listed, e.ID) }}
	do := func(method, target, body string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct {
		name, method, target, body string
		code                       int
		contains                   string
	}{
		{"register with a raw value", "POST", "/api/v1/exports",
			`{"id":"x1","actor":"wang","time":"2026-11-29T09:00:00Z","system":"crm","format":"csv","subjects":[{"type":"cn_mobile","value":"138 1234 5678"}],"canaries":[{"type":"cn_mobile","value":"17099000001"}]}`,
			201, `"subjects":1`},
		{"again: idempotent", "POST", "/api/v1/exports",
			`{"id":"x1","actor":"wang","time":"2026-11-29T09:00:00Z","subjects":[{"type":"cn_mobile","value":"13812345678"}]}`, 201, `"id":"x1"`},
		{"invalid value", "POST", "/api/v1/exports", `{"id":"x2","actor":"li","subjects":[{"type":"cn_mobile","value":"12345"}]}`, 400, "not a valid cn_mobile"},
		{"unknown field", "POST", "/api/v1/exports", `{"id":"x2","actor":"li","secret":1}`, 400, "unknown field"},
		{"no actor", "POST", "/api/v1/exports", `{"id":"x2"}`, 400, "actor is required"},
		{"list", "GET", "/api/v1/exports?actor=wang", "", 200, `"id":"x1"`},
		{"by subject", "GET", "/api/v1/exports?subject_type=cn_mobile&subject=%2B86%20138-1234-5678", "", 200, `"id":"x1"`},
		{"by unknown subject", "GET", "/api/v1/exports?subject_type=cn_mobile&subject=13900001111", "", 200, `"exports":[]`},
		{"bad limit", "GET", "/api/v1/exports?limit=-1", "", 400, "limit"},
		{"method", "DELETE", "/api/v1/exports", "", 405, "GET lists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.method, tc.target, tc.body)
			if code != tc.code || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tc.method, tc.target, code, body, tc.code, tc.contains)
			}
			if strings.Contains(body, "13812345678") || strings.Contains(body, "12345\"") {
				t.Fatalf("response carries a raw value: %s", body)
			}
		})
	}
	e, err := reg.Export(t.Context(), "x1")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(e)
	if strings.Contains(b.String(), "1381234") || len(listed) != 2 {
		t.Fatalf("stored %s, listed %v", b.String(), listed)
	}
}
