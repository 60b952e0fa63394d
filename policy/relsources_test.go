package policy

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/custos-dev/custos"
)

func TestRelationshipSourcesErrors(t *testing.T) {
	t.Setenv("CUSTOS_TEST_PSS_DSN", "postgres://x@127.0.0.1/db")
	ok := "sources:\n  - kind: booking\n    subject_type: cn_id\n    driver: postgres\n    dsn_env: CUSTOS_TEST_PSS_DSN\n    query: SELECT id FROM b WHERE agent = $1\n"
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown field", strings.Replace(ok, "    ttl", "", 1) + "    cache: 1m\n", []string{"s.yaml:7:5:", "unknown field"}},
		{"subject type", strings.Replace(ok, "cn_id", "passport", 1), []string{"s.yaml:3:19:", `subject_type "passport"`}},
		{"driver", strings.Replace(ok, "postgres", "oracle", 1), []string{"s.yaml:4:13:", `driver "oracle"`}},
		{"no dsn", strings.Replace(ok, "    dsn_env: CUSTOS_TEST_PSS_DSN\n", "", 1), []string{"s.yaml:2:5:", "exactly one of dsn"}},
		{"two dsns", strings.Replace(ok, "    dsn_env", "    dsn: postgres://a@b/c\n    dsn_env", 1), []string{"exactly one of dsn"}},
		{"env unset", strings.Replace(ok, "CUSTOS_TEST_PSS_DSN", "CUSTOS_TEST_UNSET_DSN", 1), []string{"dsn_env CUSTOS_TEST_UNSET_DSN is not set"}},
		{"no parameter", strings.Replace(ok, "$1", "'a1'", 1), []string{"s.yaml:6:12:", "$1"}},
		{"mysql placeholder", strings.Replace(ok, "postgres", "mysql", 1), []string{"s.yaml:6:", "one ? placeholder"}},
		{"no query", strings.Replace(ok, "    query: SELECT id FROM b WHERE agent = $1\n", "", 1), []string{"query required"}},
		{"duplicate kind", ok + strings.TrimPrefix(ok, "sources:\n"), []string{"s.yaml:7:11:", `kind "booking": a second source`}},
		{"ttl", ok + "    ttl: soon\n", []string{"s.yaml:7:10:", `ttl "soon"`}},
		{"version", "version: 3\n", []string{"s.yaml:1:", "version 3"}},
		{"yaml", "sources: [\n", []string{"s.yaml:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRelationshipSources("s.yaml", []byte(tt.doc), testHash, nil)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err %v, want a LoadError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "postgres://x@") {
				t.Errorf("error quotes the DSN: %v", err)
			}
		})
	}
	srcs, err := ParseRelationshipSources("s.yaml", []byte(ok+"    ttl: 30s\n    timeout: 1s\n"), testHash, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srcs.Close()
	if s := srcs.Sources[0]; s.Kind != "booking" || s.SubjectType != "cn_id" || s.TTL != 30*time.Second || s.Timeout != time.Second || s.DB == nil {
		t.Errorf("source %+v", s)
	}
}

// relSourceCase runs one configured source against a real database: a
// policy's has_relationship answers from the query, cached.
func relSourceCase(t *testing.T, db *sql.DB, driver, dsn, placeholder string) {
	ctx := context.Background()
	table := "policy_test_sources"
	db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table)
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+table+` (agent varchar(20), passenger_id varchar(20), status varchar(10))`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(`DROP TABLE IF EXISTS ` + table) })
	if _, err := db.ExecContext(ctx, `INSERT INTO `+table+` VALUES ('a1','110101199003071234','open'), ('a1','110101199003075678','closed')`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dsn"), []byte(dsn+"\n"), 0o600)
	path := filepath.Join(dir, "sources.yaml")
	doc := "version: 1\nsources:\n  - kind: booking\n    subject_type: cn_id\n    driver: " + driver + "\n    dsn_file: dsn\n" +
		"    query: SELECT passenger_id FROM " + table + " WHERE agent = " + placeholder + " AND status = 'open'\n    ttl: 1m\n"
	os.WriteFile(path, []byte(doc), 0o600)
	srcs, err := LoadRelationshipSources(path, testHash, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srcs.Close()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	srcs.Sources[0].Now = func() time.Time { return now }
	rel := NewRelationships()
	rel.Sources = srcs.Checkers()
	p := mustParse(t, `
rules:
  - id: own-booking
    when: has_relationship(actor, subject, "booking")
    decision: allow
  - id: others
    decision: deny
`, Options{Relationships: rel})
	open, _ := testHash("cn_id", "110101199003071234")
	closed, _ := testHash("cn_id", "110101199003075678")
	later, _ := testHash("cn_id", "110101199003079999")
	decide := func(actor, subject string) string {
		r := Request{Actor: custos.Actor{ID: actor}, Resource: custos.Resource{System: "pss"}, DataTypes: []string{"cn_id"}, Subjects: []string{subject}}
		return p.Decide(&r).Rules[0]
	}
	for _, c := range []struct{ actor, subject, want string }{
		{"a1", open, "own-booking"}, {"a1", closed, "others"}, {"a2", open, "others"}, {"a1", later, "others"},
	} {
		if got := decide(c.actor, c.subject); got != c.want {
			t.Errorf("%s: %s, want %s", c.actor, got, c.want)
		}
	}
	// A new booking shows once the actor's cached answer is older than the TTL.
	db.ExecContext(ctx, `INSERT INTO `+table+` VALUES ('a1','110101199003079999','open')`)
	if got := decide("a1", later); got != "others" {
		t.Errorf("cache bypassed: %s", got)
	}
	now = now.Add(61 * time.Second)
	if got := decide("a1", later); got != "own-booking" {
		t.Errorf("after the TTL: %s", got)
	}
}

func TestRelationshipSourcesPostgres(t *testing.T) {
	db := openPostgres(t)
	relSourceCase(t, db, "postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "$1")
}

func TestRelationshipSourcesMySQL(t *testing.T) {
	root, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = root.PingContext(ctx)
		cancel()
	}
	if err == nil {
		_, err = root.Exec("CREATE DATABASE IF NOT EXISTS custos_policy_test")
	}
	if err != nil {
		if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
			t.Fatalf("MariaDB at 127.0.0.1:3306 required: %v", err)
		}
		t.Skipf("MariaDB at 127.0.0.1:3306 unreachable (set CUSTOS_REQUIRE_SERVICES to fail instead): %v", err)
	}
	root.Close()
	dsn := "root@tcp(127.0.0.1:3306)/custos_policy_test"
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	relSourceCase(t, db, "mysql", dsn, "?")
}
