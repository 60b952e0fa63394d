package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// render scans paths (or writes findings) into format with timing zeroed,
// so that the output is a function of the inputs alone.
func render(t *testing.T, format string, scan func(Sink) Summary) []byte {
	t.Helper()
	var out, notes bytes.Buffer
	w, err := NewWriter(&out, &notes, format, "test", true)
	if err != nil {
		t.Fatal(err)
	}
	sum := scan(w)
	sum.Duration, sum.Seconds = 0, 0
	if err := w.Close(sum); err != nil {
		t.Fatal(err)
	}
	return append(out.Bytes(), notes.Bytes()...)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func TestGoldenFiles(t *testing.T) {
	fixtures(t)
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			got := render(t, format, func(s Sink) Summary {
				sum, err := Files(context.Background(), []string{filesDir}, Options{Workers: 2}, s)
				if err != nil {
					t.Fatal(err)
				}
				return sum
			})
			golden(t, "files."+format, got)
			if format == "json" || format == "sarif" {
				var v any
				if err := json.Unmarshal(bytes.SplitN(got, []byte("\n"+NoteError), 2)[0], &v); err != nil {
					t.Errorf("%s output is not JSON: %v", format, err)
				}
			}
		})
	}
}

// columnFindings are what a database scan reports, for the writers.
var columnFindings = []Finding{
	{System: "postgres://127.0.0.1:5432/shop", Schema: "public", Table: "customers", Column: "mobile", SQLType: "text",
		Type: "cn_mobile", Category: "contact", Confidence: 0.985, Basis: "values+name", Sampled: 1000, Matched: 996, RowEstimate: 120000, Value: "138****5678"},
	{System: "postgres://127.0.0.1:5432/shop", Schema: "public", Table: "customers", Column: "id_no", SQLType: "character varying",
		Type: "cn_id", Category: "identity", Sensitive: true, Confidence: 0.97, Basis: "values", Sampled: 1000, Matched: 1000, RowEstimate: 120000, Value: "110105********002X"},
	{System: "sqlite:shop.db", Table: "notes", Column: "姓名", SQLType: "TEXT",
		Type: "cn_name", Category: "identity", Sensitive: true, Confidence: 0.3, Basis: "name", Sampled: 0, Matched: 0, RowEstimate: -1},
}

func TestGoldenColumns(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			got := render(t, format, func(s Sink) Summary {
				var sum Summary
				sum.Tables, sum.Columns = 2, 7
				for _, f := range columnFindings {
					sum.Count(f)
					s.Finding(f)
				}
				return sum
			})
			golden(t, "columns."+format, got)
		})
	}
}

func TestSARIFStructure(t *testing.T) {
	fixtures(t)
	got := render(t, "sarif", func(s Sink) Summary {
		sum, _ := Files(context.Background(), []string{filesDir + "/notes.txt", filesDir + "/bundle.zip"}, Options{}, s)
		return sum
	})
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region *struct {
							ByteOffset *int64 `json:"byteOffset"`
							ByteLength *int64 `json:"byteLength"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.DisallowUnknownFields()
	if err := json.Unmarshal(got, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "custos" {
		t.Fatalf("bad SARIF header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Results) == 0 {
		t.Fatal("no results")
	}
	plain := 0
	for _, r := range run.Results {
		if r.RuleIndex < 0 || r.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result rule %s/%d does not match the rules", r.RuleID, r.RuleIndex)
		}
		if r.Level != "warning" && r.Level != "error" {
			t.Errorf("level %q", r.Level)
		}
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" || r.Message.Text == "" {
			t.Errorf("result lacks a location or message: %+v", r)
		}
		if reg := r.Locations[0].PhysicalLocation.Region; reg != nil {
			plain++
			if reg.ByteOffset == nil || reg.ByteLength == nil || *reg.ByteLength <= 0 {
				t.Errorf("bad region %+v", reg)
			}
		}
	}
	if plain == 0 {
		t.Error("no result with a byte region")
	}
}

// TestAppendFileJSON checks the hand-written encoder against
// encoding/json on awkward strings.
func TestAppendFileJSON(t *testing.T) {
	for _, s := range []string{"plain", `q"uote\back`, "<a>&b", "tab\tnl\ncr\r\x01\x1f", "中文\u2028\u2029", "bad\xff\xfeutf8", ""} {
		f := Finding{Path: s, Location: s, Offset: 12, Length: 3, Type: "cn_id", Category: "identity", Sensitive: true, Confidence: 0.9876, Value: s}
		want, _ := json.Marshal(fileJSON{Path: f.Path, Location: f.Location, Offset: f.Offset, Length: f.Length, Encoding: f.Encoding,
			Type: f.Type, Category: f.Category, Level: f.Level(), Confidence: round3(f.Confidence), Value: f.Value})
		if got := appendFileJSON(nil, f); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}
