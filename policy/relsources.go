package policy

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/goccy/go-yaml/parser"

	"github.com/custos-dev/custos"
)

// relSourcesDoc is a relationship-sources file as written.
type relSourcesDoc struct {
	Version int            `yaml:"version"`
	Sources []relSourceDoc `yaml:"sources"`
}

type relSourceDoc struct {
	Kind        string `yaml:"kind"`
	SubjectType string `yaml:"subject_type"`
	Driver      string `yaml:"driver"`
	DSN         string `yaml:"dsn"`
	DSNEnv      string `yaml:"dsn_env"`
	DSNFile     string `yaml:"dsn_file"`
	Query       string `yaml:"query"`
	TTL         string `yaml:"ttl"`
	Timeout     string `yaml:"timeout"`
}

// RelationshipSources are the SQL relationship sources a file configures,
// with the database handles they opened.
type RelationshipSources struct {
	Sources []*SQLRelationships
	dbs     []*sql.DB
}

// Checkers returns the sources as RelationshipCheckers, for
// Relationships.Sources.
func (s *RelationshipSources) Checkers() []RelationshipChecker {
	out := make([]RelationshipChecker, len(s.Sources))
	for i, src := range s.Sources {
		out[i] = src
	}
	return out
}

// Close closes the database handles.
func (s *RelationshipSources) Close() error {
	var errs []error
	for _, db := range s.dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// LoadRelationshipSources reads a relationship-sources file: for each
// relationship kind, the business database and the query that lists the
// subjects an actor currently has that relationship with.
//
//	version: 1
//	sources:
//	  - kind: booking
//	    subject_type: cn_id
//	    driver: postgres              # postgres or mysql
//	    dsn_env: PSS_DSN              # or dsn_file: path, or dsn: inline
//	    query: SELECT p.id_number FROM bookings b JOIN passengers p ON p.id = b.passenger_id
//	           WHERE b.agent_id = $1 AND b.status = 'open'
//	    ttl: 1m                       # cache per actor (default 1m)
//	    timeout: 2s                   # per query (default 2s)
//
// Decoding is strict and every error names file:line:column; nothing is
// opened unless the whole file is valid. Databases are not contacted here:
// a business database that is down answers "no relationship" at run time
// (fail closed) rather than stopping Custos. hash is the blind index.
func LoadRelationshipSources(path string, hash func(typ, value string) (string, error), log *slog.Logger) (*RelationshipSources, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("relationship sources: %w", err)
	}
	return ParseRelationshipSources(path, data, hash, log)
}

// ParseRelationshipSources is LoadRelationshipSources on data read from name.
func ParseRelationshipSources(name string, data []byte, hash func(typ, value string) (string, error), log *slog.Logger) (*RelationshipSources, error) {
	if hash == nil {
		return nil, errors.New("relationship sources: no hash function")
	}
	c := &compiler{file: name}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		c.yamlErr(err)
		return nil, &LoadError{Problems: c.problems}
	}
	c.ast = f
	var doc relSourcesDoc
	if len(f.Docs) > 0 && f.Docs[0].Body != nil {
		if err := decodeNode(f.Docs[0].Body, &doc); err != nil {
			c.yamlErr(err)
			return nil, &LoadError{Problems: c.problems}
		}
	}
	if doc.Version != 0 && doc.Version != Version {
		c.errorf(c.pos("$.version"), "", "version %d: this build reads version %d", doc.Version, Version)
	}
	type opened struct {
		driver, dsn string
		src         *SQLRelationships
	}
	var specs []opened
	kinds := map[string]bool{}
	for i, d := range doc.Sources {
		at := fmt.Sprintf("$.sources[%d]", i)
		pos := c.itemPos(at)
		src := &SQLRelationships{Kind: d.Kind, SubjectType: d.SubjectType, Query: strings.TrimSpace(d.Query), Hash: hash, Logger: log}
		switch {
		case d.Kind == "":
			c.errorf(pos, "", "sources[%d]: kind required", i)
		case kinds[d.Kind]:
			c.errorf(c.pos(at+".kind"), "", "kind %q: a second source for it (one query per kind)", d.Kind)
		}
		kinds[d.Kind] = true
		if !custos.KnownType(d.SubjectType) {
			c.errorf(c.pos(at+".subject_type"), "", "subject_type %q: not a data type", d.SubjectType)
		}
		driver := ""
		switch d.Driver {
		case "postgres", "postgresql", "pgx":
			driver = "pgx"
		case "mysql", "mariadb":
			driver = "mysql"
		default:
			c.errorf(c.pos(at+".driver"), "", "driver %q: postgres or mysql", d.Driver)
		}
		if d.DSNFile != "" && !filepath.IsAbs(d.DSNFile) {
			d.DSNFile = filepath.Join(filepath.Dir(name), d.DSNFile) // relative to this file
		}
		dsn, err := sourceDSN(d)
		if err != nil {
			c.errorf(pos, "", "sources[%d] (%s): %v", i, d.Kind, err)
		}
		switch {
		case src.Query == "":
			c.errorf(pos, "", "sources[%d] (%s): query required", i, d.Kind)
		case driver == "pgx" && !strings.Contains(src.Query, "$1"):
			c.errorf(c.pos(at+".query"), "", "query must use $1, the actor id")
		case driver == "mysql" && strings.Count(src.Query, "?") != 1:
			c.errorf(c.pos(at+".query"), "", "query must have one ? placeholder, the actor id")
		}
		for _, f := range []struct {
			field, v string
			dst      *time.Duration
		}{{"ttl", d.TTL, &src.TTL}, {"timeout", d.Timeout, &src.Timeout}} {
			if f.v == "" {
				continue
			}
			v, err := time.ParseDuration(f.v)
			if err != nil || v <= 0 {
				c.errorf(c.pos(at+"."+f.field), "", "%s %q: want a positive duration like 30s or 5m", f.field, f.v)
			}
			*f.dst = v
		}
		specs = append(specs, opened{driver, dsn, src})
	}
	if c.failed() {
		return nil, &LoadError{Problems: c.problems}
	}
	out := &RelationshipSources{}
	for _, s := range specs {
		db, err := openSourceDB(s.driver, s.dsn)
		if err != nil {
			out.Close()
			// The DSN may hold a password: name the kind only.
			return nil, fmt.Errorf("relationship sources: %s: open %s database: %w", name, s.src.Kind, err)
		}
		s.src.DB = db
		out.dbs = append(out.dbs, db)
		out.Sources = append(out.Sources, s.src)
	}
	return out, nil
}

// sourceDSN returns the one DSN a source gives, from the file, the
// environment or a file of its own.
func sourceDSN(d relSourceDoc) (string, error) {
	n := 0
	for _, v := range []string{d.DSN, d.DSNEnv, d.DSNFile} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return "", errors.New("exactly one of dsn, dsn_env and dsn_file required")
	}
	switch {
	case d.DSNEnv != "":
		v := os.Getenv(d.DSNEnv)
		if v == "" {
			return "", fmt.Errorf("dsn_env %s is not set", d.DSNEnv)
		}
		return v, nil
	case d.DSNFile != "":
		b, err := os.ReadFile(d.DSNFile)
		if err != nil {
			return "", fmt.Errorf("dsn_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return d.DSN, nil
}

// openSourceDB opens a small pool: lookups are per actor and cached, so a
// few connections serve a whole node.
func openSourceDB(driver, dsn string) (*sql.DB, error) {
	if driver == "mysql" {
		// Parse first so that a malformed DSN fails here, without the
		// driver quoting it back in an error.
		if _, err := mysql.ParseDSN(dsn); err != nil {
			return nil, errors.New("malformed mysql DSN")
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, errors.New("malformed DSN")
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}
