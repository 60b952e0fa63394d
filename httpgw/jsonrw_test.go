package httpgw

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
)

// shape is a JSON value with every scalar replaced by a marker: masking
// may change scalars (a number holding a phone becomes a masked string,
// a nullified value null) but never objects, keys, or array lengths.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = shape(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = shape(e)
		}
		return s
	default:
		return "scalar"
	}
}

// decodeAll reads every top-level JSON value of b (one document or NDJSON).
func decodeAll(b []byte) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []any
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func testMasker(t testing.TB) (*inspection, valueMasker) {
	key := make([]byte, blind.KeySize)
	rand.Read(key)
	idx, _ := blind.New(key)
	tok, _ := mask.NewTokenizer(key)
	in := &inspection{hash: idx.Hash}
	return in, valueMasker{m: &mask.Masker{Tokens: tok}, d: policy.Decision{Effect: custos.DecisionMask}}
}

// rewriteStream runs the streaming rewriter over b in chunks of size n.
func rewriteStream(in *inspection, vm valueMasker, b []byte, n int) ([]byte, error) {
	var out bytes.Buffer
	var scratch []byte
	rw := newJSONRewriter(&out, func(k byte, raw, path, key []byte, off int64) []byte {
		val, f, ok := in.judgeJSON(k, raw, path, key)
		if !ok {
			return nil
		}
		scratch = appendMaskedJSON(scratch[:0], raw, val, f, vm)
		return scratch
	})
	for len(b) > 0 {
		c := b[:min(n, len(b))]
		b = b[len(c):]
		if _, err := rw.Write(c); err != nil {
			return out.Bytes(), err
		}
	}
	err := rw.Close()
	return out.Bytes(), err
}

func TestJSONRewriterKeepsStructure(t *testing.T) {
	doc := fmt.Sprintf(`{"a":[1,2.5e3,-0,true,false,null,"x"],"p":{"idNo":"%s","tel":%s,"esc":"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038","e":"a\"b\\c"},"items":[{"m":"%s"},{}],"empty":[],"o":{}}`+"\n"+`{"second":"%s"}`,
		cnID(1), mobile(2), mobile(3), mobile(4))
	in, vm := testMasker(t)
	for _, chunk := range []int{1, 2, 7, 64, 1 << 20} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			in.reset(nil)
			out, err := rewriteStream(in, vm, []byte(doc), chunk)
			if err != nil {
				t.Fatalf("rewrite: %v\n%s", err, out)
			}
			a, err := decodeAll([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			b, err := decodeAll(out)
			if err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(shape(a), shape(b)) {
				t.Fatalf("shape changed:\n%s\n%s", doc, out)
			}
			mustContainNone(t, string(out), cnID(1), mobile(2), mobile(3), mobile(4))
			if !bytes.Contains(out, []byte(`"e":"a\"b\\c"`)) || !bytes.Contains(out, []byte(`2.5e3`)) {
				t.Errorf("unrelated values changed: %s", out)
			}
		})
	}
	if len(in.subjects) != 5 { // the escaped phone decodes to 13812345678
		t.Errorf("%d subjects found", len(in.subjects))
	}
}

func TestJSONRewriterRejectsInvalid(t *testing.T) {
	in, vm := testMasker(t)
	for _, doc := range []string{`{"a":}`, `[1,]`, `{"a" 1}`, `[1 2]`, `{"a":1]`, `"abc`, `[tru]`, `[01]`, `{"a":1`, "[\"\x01\"]"} {
		in.reset(nil)
		if _, err := rewriteStream(in, vm, []byte(doc), 3); err == nil {
			t.Errorf("%q accepted", doc)
		}
	}
}

func FuzzJSONRewrite(f *testing.F) {
	for _, s := range []string{
		`{"idNo":"` + cnID(1) + `","mobile":"` + mobile(1) + `"}`,
		`[{"a":13812345678},{"b":"call 13812345678"},null,true,-1.5e-3]`,
		`{"x":{"y":[[],{},[{"z":"MTM4MTIzNDU2Nzg="}]]},"u":"%31%33%38%31%32%33%34%35%36%37%38"}`,
		`"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038"`,
		"{\"a\":1}\n{\"b\":2}\n",
		`{"名字":"张伟明","手机":"１３８１２３４５６７８"}`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	in, vm := testMasker(f)
	f.Fuzz(func(t *testing.T, doc []byte, chunk uint8) {
		if !validJSONOrNDJSON(doc) {
			return // only JSON is promised anything
		}
		want, err := decodeAll(doc)
		if err != nil {
			t.Fatal(err)
		}
		in.reset(nil)
		out, err := rewriteStream(in, vm, doc, int(chunk)+1)
		if err != nil {
			t.Fatalf("rewrite of valid JSON failed: %v", err)
		}
		got, err := decodeAll(out)
		if err != nil {
			t.Fatalf("output is not JSON: %v\nin:  %q\nout: %q", err, doc, out)
		}
		if !reflect.DeepEqual(shape(want), shape(got)) {
			t.Fatalf("shape changed\nin:  %q\nout: %q", doc, out)
		}
		// The buffered path must agree with the streaming one.
		in.reset(nil)
		apply, ok := prepareJSON(doc, in)
		if !ok {
			t.Fatalf("buffered path refused valid JSON")
		}
		bout, _ := apply(vm)
		if !bytes.Equal(bout, out) {
			t.Fatalf("buffered and streamed differ\nstream:   %q\nbuffered: %q", out, bout)
		}
		// A limit cut keeps the document valid JSON with exactly the
		// records kept.
		if in.cut != nil {
			n := in.records
			for _, k := range []int{0, 1, n / 2, n - 1} {
				if k < 0 || k >= n {
					continue
				}
				cut := in.cut(k)
				if !validJSONOrNDJSON(cut) && !(k == 0 && len(bytes.TrimSpace(cut)) == 0) {
					t.Fatalf("cut to %d of %d is not JSON\nin:  %q\nout: %q", k, n, doc, cut)
				}
				cin, _ := testMasker(t)
				if _, ok := prepareJSON(cut, cin); !ok && len(bytes.TrimSpace(cut)) > 0 {
					t.Fatalf("cut to %d does not parse: %q", k, cut)
				}
				vals, _ := decodeAll(cut)
				switch {
				case len(want) > 1: // NDJSON: the values are the records
					if len(vals) != k {
						t.Fatalf("cut to %d holds %d values\nin:  %q\nout: %q", k, len(vals), doc, cut)
					}
				case cin.records != k && !(k == 0 && cin.records <= 1): // no list left: one document
					t.Fatalf("cut to %d holds %d records\nin:  %q\nout: %q", k, cin.records, doc, cut)
				}
			}
		}
	})
}

func TestJSONRecordCut(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`[{"a":1},{"a":2},{"a":3}]`, `[{"a":1},{"a":2}]`},
		{`{"total":3,"items":[ {"a":1} , {"a":2}, {"a":3} ],"page":1}`, `{"total":3,"items":[ {"a":1} , {"a":2}],"page":1}`},
		{`{"x":[{"a":1}],"y":[{"a":2},{"a":3}]}`, `{"x":[{"a":1}],"y":[{"a":2}]}`},
		{`{"x":[{"a":1},{"a":2}],"y":[{"a":3}]}`, `{"x":[{"a":1},{"a":2}],"y":[]}`},
		{`[{"h":[{"b":1},{"b":2},{"b":3}]},{"h":[]},{"h":[]}]`, `[{"h":[{"b":1},{"b":2},{"b":3}]},{"h":[]}]`},
		{"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", "{\"a\":1}\n{\"a\":2}\n"},
		{`[[1],[2],[3]]`, `[[1],[2]]`},
		{`[1,2,3]`, `[1,2,3]`}, // scalars are not records
	} {
		in, _ := testMasker(t)
		if _, ok := prepareJSON([]byte(tc.doc), in); !ok {
			t.Fatalf("%s: not JSON", tc.doc)
		}
		got := tc.doc
		if in.cut != nil {
			got = string(in.cut(2))
		}
		if got != tc.want {
			t.Errorf("cut(2) of %s\n got %s\nwant %s", tc.doc, got, tc.want)
		}
	}
}

// validJSONOrNDJSON: one JSON document, or one per line.
func validJSONOrNDJSON(b []byte) bool {
	if json.Valid(b) {
		return true
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !json.Valid(line) {
			return false
		}
		n++
	}
	return n > 0
}
