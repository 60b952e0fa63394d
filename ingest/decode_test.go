package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/custos-dev/custos"
)

// The two minimal documents other tools already produce (issue #2); they
// must be accepted exactly as they are.
const (
	minimalAccess = `{"id":"e-1","time":"2026-11-28T10:00:00Z","actor":{"id":"emp-1023","roles":["agent"]},"channel":"ingest","action":"read","resource":{"system":"pss","object":"passengers"},"purpose":{"name":"customer_service","ticket":"INC-1"},"subjects":[{"type":"cn_id","value":"11010119900307123X"}],"records":1}`
	minimalLogin  = `{"id":"l-1","time":"2026-11-28T10:00:00Z","account":"emp-1023","source":{"ip":"10.0.0.8"},"outcome":"failure","reason":"bad_password"}`
)

var now = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

func TestMinimalDocumentsAccepted(t *testing.T) {
	evs, err := Decode[custos.AccessEvent](strings.NewReader(minimalAccess), 10)
	if err != nil {
		t.Fatalf("access: %v", err)
	}
	if fes := evs[0].Validate(0, now); len(fes) > 0 {
		t.Fatalf("access invalid: %v", fes)
	}
	if evs[0].Subjects[0].Value != "11010119900307123X" || evs[0].Purpose.Ticket != "INC-1" {
		t.Errorf("decoded %+v", evs[0])
	}
	ls, err := Decode[custos.LoginEvent](strings.NewReader(minimalLogin), 10)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if fes := ls[0].Validate(0, now); len(fes) > 0 {
		t.Fatalf("login invalid: %v", fes)
	}
}

func TestDecodeForms(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"single document", minimalAccess, 1},
		{"ndjson", minimalAccess + "\n" + strings.Replace(minimalAccess, `"e-1"`, `"e-2"`, 1) + "\n", 2},
		{"ndjson blank lines and CRLF", "\r\n" + minimalAccess + "\r\n\r\n" + minimalAccess + "\r\n", 2},
		{"array", "[" + minimalAccess + "," + minimalAccess + "]", 2},
		{"array with BOM and spaces", "\xEF\xBB\xBF  [ " + minimalAccess + " ]", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Decode[custos.AccessEvent](strings.NewReader(tt.body), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.want {
				t.Fatalf("got %d events, want %d", len(evs), tt.want)
			}
		})
	}
}

func TestDecodeErrorsNameIndexAndField(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantIndex int
		wantField string
		wantIn    string
	}{
		{"unknown field", minimalAccess + "\n" + strings.Replace(minimalAccess, `"subjects"`, `"subject"`, 1), 1, "subject", "unknown field"},
		{"wrong type", strings.Replace(minimalAccess, `"records":1`, `"records":"one"`, 1), 0, "records", "wrong JSON type"},
		{"bad time", strings.Replace(minimalAccess, `2026-11-28T10:00:00Z`, `yesterday`, 1), 0, "time", "RFC 3339"},
		{"time as number", strings.Replace(minimalAccess, `"2026-11-28T10:00:00Z"`, `1764324000`, 1), 0, "time", "RFC 3339"},
		{"ndjson syntax", minimalAccess + "\n{\"id\":", 1, "", "truncated"},
		{"array syntax", "[" + minimalAccess + ",{\"id\" 1}]", 1, "", "malformed JSON"},
		{"empty", "  \n ", 0, "", "empty batch"},
		{"empty array", "[]", 0, "", "empty batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode[custos.AccessEvent](strings.NewReader(tt.body), 10)
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("want *BatchError, got %v", err)
			}
			fe := be.Errors[0]
			if fe.Index != tt.wantIndex || fe.Field != tt.wantField || !strings.Contains(fe.Reason, tt.wantIn) {
				t.Errorf("got %+v, want index %d field %q reason containing %q", fe, tt.wantIndex, tt.wantField, tt.wantIn)
			}
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	body := strings.Repeat(minimalAccess+"\n", 3)
	if _, err := Decode[custos.AccessEvent](strings.NewReader(body), 2); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	if _, err := Decode[custos.AccessEvent](strings.NewReader("["+minimalAccess+","+minimalAccess+","+minimalAccess+"]"), 2); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("array: want ErrTooLarge, got %v", err)
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name, from, to, field string
	}{
		{"missing id", `"id":"e-1"`, `"id":""`, "id"},
		{"bad channel", `"channel":"ingest"`, `"channel":"fax"`, "channel"},
		{"bad action", `"action":"read"`, `"action":"peek"`, "action"},
		{"no system", `"system":"pss"`, `"system":""`, "resource.system"},
		{"bad subject type", `"type":"cn_id"`, `"type":"CN ID"`, "subjects[0].type"},
		{"empty subject", `"value":"11010119900307123X"`, `"value":""`, "subjects[0].value"},
		{"negative records", `"records":1`, `"records":-1`, "records"},
		{"future", `2026-11-28T10:00:00Z`, `2027-11-28T10:00:00Z`, "time"},
		{"bad ip", `"channel"`, `"source":{"ip":"10.0.0.999"},"channel"`, "source.ip"},
		{"unknown category", `"records":1`, `"records":1,"categories":["gossip"]`, "categories[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Decode[custos.AccessEvent](strings.NewReader(strings.Replace(minimalAccess, tt.from, tt.to, 1)), 10)
			if err != nil {
				t.Fatal(err)
			}
			fes := evs[0].Validate(0, now)
			if len(fes) != 1 || fes[0].Field != tt.field {
				t.Fatalf("got %v, want one error on %s", fes, tt.field)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(minimalAccess))
	f.Add([]byte("[" + minimalAccess + "]"))
	f.Add([]byte(minimalAccess + "\n" + minimalAccess))
	f.Add([]byte(minimalLogin))
	f.Add([]byte(`[{"id":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Decode[custos.AccessEvent](strings.NewReader(string(body)), 50)
		if err != nil {
			var be *BatchError
			if errors.As(err, &be) && len(be.Errors) == 0 {
				t.Fatal("BatchError without errors")
			}
			if len(evs) != 0 {
				t.Fatal("events returned with an error")
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("no events and no error")
		}
		for i := range evs {
			evs[i].Validate(i, now)
		}
		if _, err := Decode[custos.LoginEvent](strings.NewReader(string(body)), 50); err == nil {
			return
		}
	})
}

// TestFastDecodeAgrees holds the v2 fast path of unmarshalStrict to
// encoding/json's answer on the fuzz corpus and on the documents where
// the two decoders are known to differ.
func TestFastDecodeAgrees(t *testing.T) {
	docs := []string{
		minimalAccess,
		minimalLogin,
		`{"ID":"e-1","Time":"2026-11-28T10:00:00Z"}`,                        // member names in another case
		`{"id":"e-1","id":"e-2"}`,                                           // duplicate names: v1 keeps the last
		"{\"id\":\"e-\xff\"}",                                               // invalid UTF-8: v1 replaces it
		`{"id":"e-1","records":1.5}`,                                        // wrong number kind
		`{"id":"e-1","time":"2026-11-28 10:00:00"}`,                         // not RFC 3339
		`{"id":"e-1","subjects":[{"type":"cn_id","value":11010119900307}]}`, // wrong type
		`{"id":"e-1","nope":1}`,                                             // unknown field
		`{"id":"e-1","actor":null,"subjects":null}`,
		`{"id":"e-1"} {"id":"e-2"}`,
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The corpus files hold Go-quoted []byte values.
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(v, ")")); err == nil {
					docs = append(docs, strings.Split(s, "\n")...)
				}
			}
		}
	}
	// The documents producers send must take the fast path, or it is none.
	var a custos.AccessEvent
	var l custos.LoginEvent
	if err := jsonv2.Unmarshal([]byte(minimalAccess), &a, fastOptions); err != nil {
		t.Errorf("fast path refuses the minimal access event: %v", err)
	}
	if err := jsonv2.Unmarshal([]byte(minimalLogin), &l, fastOptions); err != nil {
		t.Errorf("fast path refuses the minimal login event: %v", err)
	}
	for _, d := range docs {
		agree[custos.AccessEvent](t, d)
		agree[custos.LoginEvent](t, d)
	}
}

func agree[T any](t *testing.T, doc string) {
	t.Helper()
	var fast, slow T
	ferr := unmarshalStrict([]byte(doc), &fast)
	serr := unmarshalV1([]byte(doc), &slow)
	if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
		t.Errorf("%T %q: fast path error %v, encoding/json %v", fast, doc, ferr, serr)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("%T %q: fast path %+v, encoding/json %+v", fast, doc, fast, slow)
	}
}
