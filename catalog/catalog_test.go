package catalog

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
)

func TestLoad(t *testing.T) {
	c, err := Load("testdata/airline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	types, cats := c.Classify("pss", "public.passengers")
	if want := []string{"date_of_birth", "cn_id", "cn_name", "cn_mobile"}; !slices.Equal(types, want) {
		t.Errorf("types %v, want %v", types, want)
	}
	if want := []string{"identity", "contact"}; !slices.Equal(cats, want) {
		t.Errorf("categories %v, want %v", cats, want)
	}
	_, cats = c.Classify("pss", "public.itineraries")
	if !slices.Contains(cats, custos.CategoryWhereabouts) {
		t.Errorf("itineraries categories %v", cats)
	}
	if got := c.SubjectKeys("crm", "GET /api/passengers/{id}"); !slices.Equal(got, []string{"$.idNo"}) {
		t.Errorf("subject keys %v", got)
	}
	if f, ok := c.Field("pss", "public.passengers", "phone"); !ok || f.Type != custos.TypeCNMobile {
		t.Errorf("field phone: %v %v", f, ok)
	}
	if ty, _ := c.Classify("pss", "public.unknown"); ty != nil {
		t.Errorf("unknown table classified %v", ty)
	}
	// Round trip.
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse("roundtrip", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if t2, _ := c2.Classify("pss", "public.passengers"); len(t2) != 4 {
		t.Errorf("round trip lost types: %v", t2)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", "version: 1\nresources:\n  - system: a\n    tabel: x\n", "x.yaml:4:5"},
		{"unknown type", "resources:\n  - system: a\n    table: t\n    columns:\n      c: {type: phone}\n", `unknown data type "phone"`},
		{"no type", "resources:\n  - system: a\n    table: t\n    columns:\n      c: {subject_key: true}\n", "type or category required"},
		{"both", "resources:\n  - system: a\n    table: t\n    route: GET /\n", "exactly one of table and route"},
		{"duplicate", "resources:\n  - {system: a, table: t}\n  - {system: a, table: t}\n", "listed twice"},
		{"version", "version: 2\n", "version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFromFindings(t *testing.T) {
	fs := []Finding{
		{System: "pss", Schema: "public", Table: "passengers", Column: "phone", Type: "cn_mobile", Confidence: 0.99},
		{System: "pss", Schema: "public", Table: "passengers", Column: "idno", Type: "cn_id", Confidence: 0.97},
		{System: "pss", Schema: "public", Table: "passengers", Column: "idno", Type: "bank_card", Confidence: 0.40},
		{System: "pss", Schema: "public", Table: "passengers", Column: "note", Type: "cn_mobile", Confidence: 0.2},
		{System: "pss", Schema: "public", Table: "passengers", Column: "x", Type: "shoe_size", Confidence: 1},
		{System: "pss", Table: "staff", Column: "mobile", Type: "cn_mobile", Confidence: 0.9},
	}
	f, skipped := FromFindings(fs, 0.5)
	if skipped != 1 {
		t.Errorf("skipped %d, want 1", skipped)
	}
	c, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SubjectKeys("pss", "public.passengers"); !slices.Equal(got, []string{"idno"}) {
		t.Errorf("passengers subject key %v, want idno (ID before phone)", got)
	}
	if got := c.SubjectKeys("pss", "staff"); !slices.Equal(got, []string{"mobile"}) {
		t.Errorf("staff subject key %v", got)
	}
	if f, _ := c.Field("pss", "public.passengers", "idno"); f.Type != custos.TypeCNID {
		t.Errorf("idno type %q, want the more confident cn_id", f.Type)
	}
	if _, ok := c.Field("pss", "public.passengers", "note"); ok {
		t.Error("low-confidence finding imported")
	}
}

func TestMergeHandWrittenWins(t *testing.T) {
	base, err := Load("testdata/airline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	imported, _ := FromFindings([]Finding{
		{System: "pss", Schema: "public", Table: "passengers", Column: "phone", Type: "cn_landline", Confidence: 1},
		{System: "pss", Schema: "public", Table: "passengers", Column: "email", Type: "email", Confidence: 1},
		{System: "bank", Table: "cards", Column: "pan", Type: "bank_card", Confidence: 1},
	}, 0)
	merged, err := New(Merge(base.File(), imported))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := merged.Field("pss", "public.passengers", "phone"); f.Type != custos.TypeCNMobile {
		t.Errorf("hand-written phone overwritten: %v", f.Type)
	}
	if _, ok := merged.Field("pss", "public.passengers", "email"); !ok {
		t.Error("new column not merged")
	}
	if _, ok := merged.Resource("bank", "cards"); !ok {
		t.Error("new table not merged")
	}
	if f, _ := base.Field("pss", "public.passengers", "email"); f.Type != "" {
		t.Error("merge modified base")
	}
}

func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/airline.yaml")
	f.Add(seed)
	f.Add([]byte("resources: [{system: a, route: GET /, fields: {$.x: {category: health}}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("again", out); err != nil {
			t.Fatalf("re-parse of marshalled catalogue: %v\n%s", err, out)
		}
	})
}

func TestReadScanJSON(t *testing.T) {
	jsonForm := `{"version":1,"findings":[
{"path":"a.csv","offset":3,"length":11,"type":"cn_mobile","category":"contact","level":"personal","confidence":0.9,"value":"138****5678"},
{"system":"pss","schema":"public","table":"passengers","column":"idno","sql_type":"text","type":"cn_id","category":"identity","level":"sensitive","confidence":0.98,"basis":"sample","sampled":100,"matched":98,"row_estimate":5000},
{"system":"pss","schema":"public","table":"calls","column":"callee","type":"cn_mobile","category":"communication","confidence":0.9}
],"notes":[]}`
	jsonl := `{"system":"pss","schema":"public","table":"passengers","column":"idno","type":"cn_id","category":"identity","confidence":0.98}
{"path":"a.csv","offset":3,"length":11,"type":"cn_mobile","confidence":0.9,"value":"138****5678"}
`
	for name, in := range map[string]string{"json": jsonForm, "jsonl": jsonl} {
		fs, err := ReadScanJSON(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(fs) == 0 || fs[0].Table != "passengers" || fs[0].Column != "idno" || fs[0].Confidence != 0.98 {
			t.Fatalf("%s: %+v", name, fs)
		}
	}
	fs, _ := ReadScanJSON(strings.NewReader(jsonForm))
	f, _ := FromFindings(fs, 0.5)
	c, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	if fl, _ := c.Field("pss", "public.calls", "callee"); fl.EffectiveCategory() != custos.CategoryCommunication {
		t.Errorf("scanner's category lost: %+v", fl)
	}
	if _, err := ReadScanJSON(strings.NewReader(`{"table": 3}`)); err == nil {
		t.Error("malformed finding accepted")
	}
}
