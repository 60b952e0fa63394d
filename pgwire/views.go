package pgwire

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/pgsql"
)

// Views carry no provenance in RowDescription for the catalogue (the table
// OID is the view's), and an expression over a view's column names the
// view, not the table. The gateway reads the lineage of a view's columns
// from its definition (pg_get_viewdef, loaded with the relation's names
// and cached with them) with pgsql's analysis, through nested views, so
// that a view column that passes a catalogued column through is masked by
// provenance and one derived from it is treated as a derived column of a
// direct query (NULL, redacted or masked by content).

// maxViewDepth bounds how deep views over views are followed.
const maxViewDepth = 8

// viewAnalysis is a view definition's analysis, made once per relation
// (relations are shared by the sessions of a database).
type viewAnalysis struct {
	once sync.Once
	st   *pgsql.Statement // nil when the definition does not parse
}

func (r *relation) viewStatement() *pgsql.Statement {
	if r.viewdef == "" {
		return nil
	}
	r.view.once.Do(func() {
		a, err := pgsql.Analyze(r.viewdef)
		if err == nil && len(a.Statements) == 1 {
			r.view.st = &a.Statements[0]
		}
	})
	return r.view.st
}

// isView reports whether a relation kind is a view or a materialized
// view, whose columns are the results of its query.
func isView(kind byte) bool { return kind == 'v' || kind == 'm' }

// colLineage is what a view's column is made of.
type colLineage struct {
	// direct: the column is a catalogued column passed through as it is
	// (field, of relation object).
	direct bool
	field  catalog.Field
	object string
	// taint lists the catalogued types the column may be derived from.
	taint []string
}

func (l *colLineage) addTaint(types ...string) {
	for _, t := range types {
		if t != "" && !slices.Contains(l.taint, t) {
			l.taint = append(l.taint, t)
		}
	}
}

// viewColumn returns the lineage of attribute attnum of view rel.
func (ss *session) viewColumn(ctx context.Context, rel *relation, attnum int16, depth int) colLineage {
	var out colLineage
	st := rel.viewStatement()
	if st == nil || depth > maxViewDepth {
		return out
	}
	names := st.Columns
	direct := false
	if st.Outputs != nil {
		i := int(attnum) - 1
		if i < 0 || i >= len(st.Outputs) {
			return out
		}
		names = st.Outputs[i].Columns
		direct = st.Outputs[i].Direct
	}
	return ss.columnsLineage(ctx, st, names, direct, depth)
}

// columnsLineage is the lineage of an expression of statement st that
// reads the columns names (direct: it is the one column, as it is),
// through the relations st reads: tables by the catalogue, views by
// their own definitions.
func (ss *session) columnsLineage(ctx context.Context, st *pgsql.Statement, names []string, direct bool, depth int) colLineage {
	var out colLineage
	if len(names) == 0 {
		return out
	}
	tables := st.Reads()
	rels := ss.relationsByName(ctx, tables)
	// A column passed through is the table's only when exactly one of
	// the relations read has a column of that name (a qualified
	// reference is not told apart).
	owners := 0
	var sub colLineage
	for i, t := range tables {
		rel := rels[i]
		if rel == nil {
			// Not found upstream (or not visible to the gateway's own
			// connection): the catalogue by name, as for a direct query.
			if res, ok := ss.catalogResource(t); ok {
				out.addTaint(taintTypes([]catalog.Resource{res}, names)...)
				for _, n := range names {
					if f, ok := res.Columns[n]; ok {
						owners++
						sub = colLineage{direct: true, field: f, object: qualify(t)}
					}
				}
			}
			continue
		}
		for _, n := range names {
			for attnum, col := range rel.columns {
				if n != "*" && col != n {
					continue
				}
				if n != "*" {
					owners++
				}
				if isView(rel.kind) {
					l := ss.viewColumn(ctx, rel, attnum, depth+1)
					out.addTaint(l.taint...)
					if l.direct {
						out.addTaint(l.field.Type)
					}
					sub = l
					continue
				}
				if f, ok := ss.catalogField(rel.name, col); ok {
					out.addTaint(f.Type)
					sub = colLineage{direct: true, field: f, object: rel.name}
				} else {
					sub = colLineage{}
				}
			}
		}
	}
	if direct && owners == 1 && sub.direct {
		return sub
	}
	slices.Sort(out.taint)
	return out
}

// maxNames bounds the relation names the meta cache remembers per
// database.
const maxNames = 4096

type metaName struct {
	db, name string
}

type nameEntry struct {
	oid    uint32 // 0: no such relation
	loaded time.Time
}

// relationsByName resolves relation names as a statement writes them to
// the upstream's relations (nil where there is none), with the search
// path of the gateway's own connection.
func (ss *session) relationsByName(ctx context.Context, tables []pgsql.Table) []*relation {
	out := make([]*relation, len(tables))
	if len(tables) == 0 {
		return out
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = quoteIdent(t.Name)
		if t.Schema != "" {
			names[i] = quoteIdent(t.Schema) + "." + names[i]
		}
	}
	oids, err := ss.s.meta.resolve(ctx, ss.db, names)
	if err != nil {
		ss.s.Log.Warn("pgwire: resolving relation names failed; views are read by content", "err", err)
		return out
	}
	var want []uint32
	for _, o := range oids {
		if o != 0 {
			want = append(want, o)
		}
	}
	if len(want) == 0 {
		return out
	}
	rels, err := ss.relations(ctx, want)
	if err != nil {
		ss.s.Log.Warn("pgwire: catalogue look-up failed; views are read by content", "err", err)
		return out
	}
	for i, o := range oids {
		if o != 0 {
			out[i] = rels[o]
		}
	}
	return out
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// resolve returns the OID of each relation name (0 for none), asking the
// upstream once per name and caching the answer for metaTTL.
func (m *metaCache) resolve(ctx context.Context, db string, names []string) ([]uint32, error) {
	out := make([]uint32, len(names))
	now := time.Now()
	var missing []string
	m.mu.Lock()
	for i, n := range names {
		if e, ok := m.names[metaName{db, n}]; ok && now.Sub(e.loaded) < metaTTL {
			out[i] = e.oid
		} else if !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	m.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	p, err := m.pool(ctx, db)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := p.Query(ctx, `SELECT n, coalesce(pg_catalog.to_regclass(n)::oid, 0) FROM unnest($1::text[]) n`, missing)
	if err != nil {
		return nil, fmt.Errorf("relation names: %w", err)
	}
	defer rows.Close()
	got := map[string]uint32{}
	for rows.Next() {
		var n string
		var oid uint32
		if err := rows.Scan(&n, &oid); err != nil {
			return nil, fmt.Errorf("relation names: %w", err)
		}
		got[n] = oid
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("relation names: %w", err)
	}
	m.mu.Lock()
	if len(m.names) >= maxNames {
		clear(m.names)
	}
	for n, o := range got {
		m.names[metaName{db, n}] = nameEntry{oid: o, loaded: now}
	}
	m.mu.Unlock()
	for i, n := range names {
		if o, ok := got[n]; ok {
			out[i] = o
		}
	}
	return out, nil
}
