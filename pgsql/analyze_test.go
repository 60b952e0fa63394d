package pgsql

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestAnalyzeGolden analyzes every query of testdata/queries.sql (separated
// by lines of ---) and compares with testdata/analyze.golden.json.
func TestAnalyzeGolden(t *testing.T) {
	type result struct {
		SQL      string   `json:"sql"`
		Analysis Analysis `json:"analysis"`
		Blocked  *Block   `json:"blocked_non_dba,omitempty"`
	}
	var got []result
	for _, q := range goldenQueries(t) {
		a, err := Analyze(q)
		if err != nil {
			t.Fatalf("Analyze(%q): %v", q, err)
		}
		got = append(got, result{SQL: q, Analysis: a, Blocked: a.Blocked(testOptions(false))})
	}
	out, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "analyze.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pgsql -run Golden -update)", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(out)) {
		t.Errorf("analysis differs from %s; rerun with -update and review the diff", golden)
	}
}

// goldenQueries are the queries of testdata/queries.sql.
func goldenQueries(t testing.TB) []string {
	data, err := os.ReadFile(filepath.Join("testdata", "queries.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var qs []string
	for _, q := range strings.Split(string(data), "\n---\n") {
		qs = append(qs, strings.TrimSpace(q))
	}
	return qs
}

// testOptions treats passengers (any schema) as catalogued.
func testOptions(dba bool) BlockOptions {
	return BlockOptions{
		DBA:        dba,
		Catalogued: func(t Table) bool { return t.Name == "passengers" },
	}
}

func TestBlocked(t *testing.T) {
	tests := []struct {
		sql  string
		dba  bool
		rule string // "" means allowed
	}{
		{"SELECT * FROM passengers", false, RuleSelectStar},
		{"SELECT * FROM passengers LIMIT ALL", false, RuleSelectStar},
		{"SELECT * FROM passengers LIMIT 10", false, ""},
		{"SELECT * FROM (SELECT * FROM passengers) s", false, RuleSelectStar},
		{"SELECT * FROM flights", false, ""},
		{"SELECT id, phone FROM passengers", false, ""},
		{"SELECT count(*) FROM passengers", false, ""},
		{"WITH p AS (SELECT * FROM passengers) SELECT id FROM p", false, RuleSelectStar},
		{"COPY passengers TO STDOUT", false, RuleCopyTo},
		{"COPY (SELECT phone FROM passengers) TO STDOUT", false, RuleCopyTo},
		{"COPY flights TO STDOUT", false, ""},
		{"COPY flights FROM STDIN", false, ""},
		{"COPY flights TO PROGRAM 'sh'", true, RuleCopyProgram},
		{"COPY flights FROM '/etc/passwd'", true, RuleCopyFile},
		{"CREATE TABLE x AS SELECT phone FROM passengers", true, RuleCopiesData},
		{"SELECT phone INTO TEMP x FROM passengers", false, RuleCopiesData},
		{"CREATE VIEW v AS SELECT phone FROM passengers", true, RuleCopiesData},
		{"CREATE MATERIALIZED VIEW v AS SELECT phone FROM public.passengers", true, RuleCopiesData},
		{"INSERT INTO scratch SELECT phone FROM passengers", false, RuleCopiesData},
		{"UPDATE scratch SET v = (SELECT phone FROM passengers LIMIT 1)", false, RuleCopiesData},
		{"INSERT INTO passengers SELECT * FROM passengers_import LIMIT 1", false, ""},
		{"CREATE TABLE x AS SELECT id FROM flights", true, ""},
		{"CREATE TABLE x AS SELECT id FROM flights", false, RuleDDL},
		{"CREATE TEMP TABLE x (a int)", false, RuleDDL},
		{"DROP TABLE flights", false, RuleDDL},
		{"DROP TABLE flights", true, ""},
		{"SELECT pg_read_file('/etc/passwd')", true, RuleFunction},
		{"SELECT PG_CATALOG.PG_LS_DIR('.')", true, RuleFunction},
		{"SELECT * FROM dblink_exec('x', 'y')", true, RuleFunction},
		{"SELECT lo_import('/etc/passwd')", false, RuleFunction},
		{"SELECT 1; SELECT pg_read_file('x')", false, RuleFunction},
		{"SET custos.purpose = 'x'", false, ""},
		{"SET standard_conforming_strings = off", true, RuleSetting},
		{"SET ROLE postgres", false, RuleSetting},
		{"SET SESSION AUTHORIZATION postgres", false, RuleSetting},
		{"SET ROLE postgres", true, ""},
		{"RESET ROLE", false, ""},
		{"DO $$ BEGIN PERFORM pg_read_file('x'); END $$", false, RuleDDL},
		{"SET standard_conforming_strings TO on", false, ""},
		{"RESET standard_conforming_strings", false, ""},
		{"SELECT set_config('standard_conforming_strings', 'off', false)", false, RuleSetting},
		{"SELECT set_config(name, 'off', false) FROM x", false, RuleSetting},
		{"SELECT set_config('custos.purpose', 'audit', false)", false, ""},
		{"DECLARE c CURSOR FOR SELECT * FROM passengers", false, RuleSelectStar},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			a, err := Analyze(tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			b := a.Blocked(testOptions(tt.dba))
			got := ""
			if b != nil {
				got = b.Rule
				if b.SQLState != "42501" || b.Message == "" {
					t.Errorf("block %+v lacks SQLSTATE 42501 or a message", b)
				}
				if strings.Contains(b.Message, "/etc/passwd") {
					t.Errorf("block message quotes the query: %q", b.Message)
				}
			}
			if got != tt.rule {
				t.Errorf("rule = %q, want %q (analysis %+v)", got, tt.rule, a.Statements)
			}
		})
	}
}

func TestParseError(t *testing.T) {
	_, err := Analyze("SELECT phone FROM passengers WHERE phone = '13800138000")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ParseError", err)
	}
	if pe.Position == 0 {
		t.Errorf("no position in %+v", pe)
	}
	if strings.Contains(err.Error(), "138") {
		t.Errorf("Error() quotes the query: %q", err)
	}
	_, err = Analyze("SELEC 1")
	if !errors.As(err, &pe) || pe.Position != 1 || !strings.Contains(pe.Message, "SELEC") {
		t.Errorf("SELEC 1: %+v", err)
	}
	if got := err.Error(); got != "pgsql: syntax error at position 1" {
		t.Errorf("Error() = %q", got)
	}
}

func TestSettingsAndComments(t *testing.T) {
	a, err := Analyze("SET custos.purpose = 'fraud review'; SET LOCAL custos.ticket TO 'T-9'")
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Statements[0].Setting; s == nil || s.Name != "custos.purpose" || s.Value != "fraud review" || s.Local {
		t.Errorf("first setting %+v", s)
	}
	if s := a.Statements[1].Setting; s == nil || s.Name != "custos.ticket" || s.Value != "T-9" || !s.Local {
		t.Errorf("second setting %+v", s)
	}
	tests := []struct {
		sql  string
		want map[string]string
	}{
		{"SELECT 1 /* custos_purpose='a%20b',custos_ticket='T-1' */", map[string]string{"custos_purpose": "a b", "custos_ticket": "T-1"}},
		{"SELECT 1 /*custos_purpose='x'*/;", map[string]string{"custos_purpose": "x"}},
		{"/* custos_user='bob%40x.org' */ SELECT 1", map[string]string{"custos_user": "bob@x.org"}},
		{`SELECT 1 /* k='it\'s' */`, map[string]string{"k": "it's"}},
		{"SELECT '/* custos_purpose=''x'' */'", nil},
		{"SELECT 1 /* plain words */", nil},
		{"SELECT /* custos_purpose='mid' */ 1", nil},
		{"SELECT 1 /* k='unterminated */", nil},
	}
	for _, tt := range tests {
		a, err := Analyze(tt.sql)
		if err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		if len(a.Comment) != len(tt.want) {
			t.Errorf("%s: comment %v, want %v", tt.sql, a.Comment, tt.want)
			continue
		}
		for k, v := range tt.want {
			if a.Comment[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.sql, k, a.Comment[k], v)
			}
		}
	}
}

func TestFingerprintIgnoresConstants(t *testing.T) {
	a, _ := Analyze("SELECT phone FROM passengers WHERE id = 1")
	b, _ := Analyze("select phone from passengers where id = 999 /* c */")
	c, _ := Analyze("SELECT name FROM passengers WHERE id = 1")
	if a.Statements[0].Fingerprint != b.Statements[0].Fingerprint {
		t.Error("fingerprints differ for the same statement shape")
	}
	if a.Statements[0].Fingerprint == c.Statements[0].Fingerprint {
		t.Error("fingerprints equal for different columns")
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, q := range goldenQueries(f) {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		a, err := Analyze(sql)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && (pe.Position < 0 || pe.Position > len(sql)+1) {
				t.Errorf("position %d outside the query of %d bytes", pe.Position, len(sql))
			}
			return
		}
		for _, st := range a.Statements {
			if !strings.Contains(sql, st.Text) {
				t.Errorf("statement text %q is not part of the query", st.Text)
			}
			if len(st.Fingerprint) != 16 {
				t.Errorf("fingerprint %q", st.Fingerprint)
			}
			// Lineage never names a column the statement does not
			// reference: a result column's inputs are among Columns.
			for i, o := range st.Outputs {
				for _, c := range o.Columns {
					if !slices.Contains(st.Columns, c) {
						t.Errorf("output %d reads %q, not in Columns %v", i, c, st.Columns)
					}
				}
			}
		}
		a.Blocked(BlockOptions{Catalogued: func(Table) bool { return true }})
	})
}

func TestColumns(t *testing.T) {
	tests := []struct {
		sql  string
		want []string
	}{
		{"SELECT encode(phone::bytea, 'hex') FROM passengers", []string{"phone"}},
		{"SELECT p.name FROM passengers p WHERE p.phone LIKE '138%'", []string{"name", "phone"}},
		{"SELECT row_to_json(p) FROM passengers p", []string{"*"}},
		{"SELECT textsend(passengers) FROM passengers", []string{"*"}},
		{"SELECT q.* FROM (SELECT id_number FROM passengers) q", []string{"*", "id_number"}},
		{"SELECT count(*) FROM passengers", nil},
	}
	for _, tt := range tests {
		a, err := Analyze(tt.sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Statements[0].Columns; strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: Columns = %v, want %v", tt.sql, got, tt.want)
		}
	}
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		sql  string
		want [][]string // nil: lineage unknown
	}{
		{"SELECT id, phone FROM passengers", [][]string{{"id"}, {"phone"}}},
		{"SELECT phone::bigint * 2, 1 FROM passengers", [][]string{{"phone"}, nil}},
		{"SELECT count(*), count(phone), count(DISTINCT p.id_number) FILTER (WHERE phone LIKE '1%') FROM passengers p", [][]string{nil, nil, nil}},
		{"SELECT count(*) + length(phone) FROM passengers GROUP BY phone", [][]string{{"phone"}}},
		{"SELECT row_to_json(p), p.name FROM passengers p", [][]string{{"*"}, {"name"}}},
		{"SELECT f.code FROM flights f JOIN passengers p ON p.id = f.id WHERE p.phone = '1'", [][]string{{"code"}}},
		{"SELECT (SELECT phone FROM passengers WHERE id = 1)", [][]string{{"phone", "id"}}},
		{"SELECT substr(phone, 1, 1)::int, substr(phone, 2, 1)::int FROM passengers", [][]string{{"phone"}, {"phone"}}},
		{"DECLARE c CURSOR FOR SELECT phone::numeric FROM passengers", [][]string{{"phone"}}},
		{"PREPARE q AS SELECT length(phone) FROM passengers", [][]string{{"phone"}}},
		{"SELECT * FROM passengers LIMIT 1", nil},
		{"SELECT p.*, 1 FROM passengers p LIMIT 1", nil},
		{"SELECT v FROM (SELECT phone AS v FROM passengers) q", nil},
		{"WITH x AS (SELECT phone FROM passengers) SELECT phone FROM x", nil},
		{"SELECT phone FROM passengers UNION SELECT code FROM flights", nil},
		{"SELECT x.v FROM passengers p, LATERAL (SELECT p.phone AS v) x", nil},
		{"SELECT * FROM passenger_phones()", nil},
		{"VALUES (1)", nil},
		{"UPDATE passengers SET name = name RETURNING phone", nil},
	}
	for _, tc := range tests {
		a, err := Analyze(tc.sql)
		if err != nil {
			t.Fatalf("Analyze(%q): %v", tc.sql, err)
		}
		outs := a.Statements[0].Outputs
		if tc.want == nil {
			if outs != nil {
				t.Errorf("%s: Outputs = %v, want unknown (nil)", tc.sql, outs)
			}
			continue
		}
		if len(outs) != len(tc.want) {
			t.Errorf("%s: %d outputs %v, want %d", tc.sql, len(outs), outs, len(tc.want))
			continue
		}
		for i, o := range outs {
			if strings.Join(o.Columns, ",") != strings.Join(tc.want[i], ",") {
				t.Errorf("%s: output %d reads %v, want %v", tc.sql, i, o.Columns, tc.want[i])
			}
		}
	}
}

func TestCursorAndPreparedNames(t *testing.T) {
	tests := []struct{ sql, cursor, prepared string }{
		{"DECLARE c1 CURSOR FOR SELECT phone FROM passengers", "c1", ""},
		{"FETCH 2 FROM c1", "c1", ""},
		{"FETCH ALL IN \"C2\"", "C2", ""},
		{"MOVE NEXT FROM c1", "c1", ""},
		{"CLOSE c1", "c1", ""},
		{"PREPARE q1 AS SELECT phone FROM passengers", "", "q1"},
		{"EXECUTE q1", "", "q1"},
		{"SELECT 1", "", ""},
	}
	for _, tc := range tests {
		a, err := Analyze(tc.sql)
		if err != nil {
			t.Fatalf("Analyze(%q): %v", tc.sql, err)
		}
		st := a.Statements[0]
		if st.Cursor != tc.cursor || st.Prepared != tc.prepared {
			t.Errorf("%s: cursor %q prepared %q, want %q %q", tc.sql, st.Cursor, st.Prepared, tc.cursor, tc.prepared)
		}
	}
}

func TestReturningAndDirect(t *testing.T) {
	tests := []struct {
		sql       string
		returning bool
		direct    []bool // per output, nil: no outputs
	}{
		{"INSERT INTO t VALUES (1)", false, nil},
		{"INSERT INTO t VALUES (1) RETURNING id", true, nil},
		{"UPDATE t SET a = 1 RETURNING *", true, nil},
		{"DELETE FROM t RETURNING a", true, nil},
		{"DELETE FROM t", false, nil},
		{"SELECT id, p.phone, reverse(phone), phone || '', p FROM passengers p", false, []bool{true, true, false, false, false}},
	}
	for _, tc := range tests {
		a, err := Analyze(tc.sql)
		if err != nil {
			t.Fatalf("Analyze(%q): %v", tc.sql, err)
		}
		st := a.Statements[0]
		if st.Returning != tc.returning {
			t.Errorf("%s: Returning = %v, want %v", tc.sql, st.Returning, tc.returning)
		}
		if len(st.Outputs) != len(tc.direct) {
			t.Fatalf("%s: %d outputs, want %d", tc.sql, len(st.Outputs), len(tc.direct))
		}
		for i, d := range tc.direct {
			if st.Outputs[i].Direct != d {
				t.Errorf("%s: output %d Direct = %v, want %v", tc.sql, i, st.Outputs[i].Direct, d)
			}
		}
	}
}
