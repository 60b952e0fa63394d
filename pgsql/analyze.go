package pgsql

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Kind is what a statement does, as the gateway groups statements.
type Kind string

// The statement kinds.
const (
	KindSelect      Kind = "select"      // SELECT, VALUES, TABLE, DECLARE … CURSOR FOR SELECT
	KindInsert      Kind = "insert"      // INSERT
	KindUpdate      Kind = "update"      // UPDATE
	KindDelete      Kind = "delete"      // DELETE
	KindMerge       Kind = "merge"       // MERGE
	KindCopyTo      Kind = "copy_to"     // COPY … TO (data leaves the server)
	KindCopyFrom    Kind = "copy_from"   // COPY … FROM
	KindDDL         Kind = "ddl"         // CREATE, ALTER, DROP, TRUNCATE, GRANT, DO, …
	KindSet         Kind = "set"         // SET, RESET
	KindShow        Kind = "show"        // SHOW
	KindTransaction Kind = "transaction" // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, …
	KindCall        Kind = "call"        // CALL procedure
	KindOther       Kind = "other"       // everything else (FETCH, EXPLAIN, NOTIFY, VACUUM, …)
)

// Table is one relation a statement names, as written (no search_path
// resolution: an unqualified name has an empty Schema). Names are folded the
// way PostgreSQL folds identifiers (unquoted lower-cased, quoted kept).
type Table struct {
	Schema string
	Name   string
	// Write is true when the statement writes or creates the relation
	// (INSERT/UPDATE/DELETE/MERGE target, COPY FROM target, CREATE TABLE
	// [AS], SELECT INTO, CREATE VIEW, ALTER/DROP); false when it only reads.
	Write bool
}

// String is schema.name, or name when no schema was written.
func (t Table) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// Setting is one SET or RESET of a run-time parameter.
type Setting struct {
	Name  string // lower-cased parameter name, e.g. "custos.purpose"
	Value string // the value as text; empty for RESET and SET … TO DEFAULT
	Local bool   // SET LOCAL
	Reset bool   // RESET, RESET ALL (Name "all") or SET … TO DEFAULT
}

// Statement is the analysis of one statement of a query string.
type Statement struct {
	Kind Kind
	// Text is the statement's own text within the query string, without
	// the separating semicolon.
	Text string
	// Fingerprint is pg_query's fingerprint (16 hex digits): equal for
	// statements that differ only in constants, comments and whitespace.
	Fingerprint string
	// Tables lists each relation once (a relation both read and written is
	// listed once, with Write set). Names of CTEs are not tables.
	Tables []Table
	// Functions lists the functions called (names folded as PostgreSQL folds
	// identifiers), schema-qualified
	// as written ("pg_catalog.pg_read_file"), each once.
	Functions []string
	// Columns lists the column names the statement references anywhere
	// (select lists, expressions, WHERE, ORDER BY, RETURNING), each once,
	// as folded by PostgreSQL and without their table qualifier. A
	// reference to a whole row (row_to_json(p), textsend(p), p.*) or a
	// * is listed as "*". A gateway uses it to tell that a result column
	// without provenance may be derived from a masked column.
	Columns []string
	// Outputs is the lineage of each result column of a SELECT, in order:
	// the column names its expression references (as Columns does, "*"
	// for a whole row), leaving out what only count() reads — a count
	// reveals no value. Nil when the text alone cannot tell which result
	// column an expression becomes or where its inputs come from: a * in
	// the select list, set operations (UNION …), WITH, VALUES, or a FROM
	// item other than relations and joins of relations (subqueries,
	// functions). A gateway then treats every result column as derived
	// from every column in Columns.
	Outputs []Output
	// Cursor names the cursor of DECLARE, FETCH, MOVE and CLOSE, and
	// Prepared the statement of SQL-level PREPARE and EXECUTE: their
	// results come from the query declared or prepared earlier under
	// that name, whose lineage a gateway keeps.
	Cursor   string
	Prepared string
	// SelectStar is true when a select list anywhere in the statement
	// uses * or t.*.
	SelectStar bool
	// Limited is true when the outermost query has LIMIT n or FETCH FIRST n
	// (LIMIT ALL is not a limit).
	Limited bool
	// Creates is true when the statement creates a relation from a query:
	// CREATE TABLE AS, SELECT INTO, CREATE [MATERIALIZED] VIEW (temporary
	// or not).
	Creates bool
	// CopyProgram and CopyFile are set for COPY … PROGRAM and COPY to or
	// from a server-side file.
	CopyProgram bool
	CopyFile    bool
	// Setting is set for SET and RESET statements.
	Setting *Setting
	// Utility is true for statements other than SELECT, INSERT, UPDATE,
	// DELETE and MERGE.
	Utility bool
	// Returning is true for an INSERT, UPDATE, DELETE or MERGE with a
	// RETURNING list: a write that returns rows.
	Returning bool

	// setsLexer is true when set_config changes standard_conforming_strings
	// (or a setting it cannot name).
	setsLexer bool
}

// Output is the lineage of one result column (Statement.Outputs).
type Output struct {
	// Columns are the column names the expression references, each once,
	// "*" for a whole-row reference; empty for constants and count().
	Columns []string
	// Direct is true when the expression is a bare column reference
	// (Columns holds its one name): the result column is that column's
	// value as it is, as a view's column passing a table's through.
	Direct bool
}

// Reads reports whether the statement reads any relation.
func (s Statement) Reads() []Table {
	var out []Table
	for _, t := range s.Tables {
		if !t.Write {
			out = append(out, t)
		}
	}
	return out
}

// Analysis is the result of Analyze: the statements of one query string in
// order, and the sqlcommenter attributes of its leading or trailing comment.
type Analysis struct {
	Statements []Statement
	// Comment holds the key/value attributes of a sqlcommenter comment
	// (/* key='value',… */) leading or trailing the query string, keys
	// and values URL-decoded. Nil when there is none.
	Comment map[string]string
}

// ParseError is a query string PostgreSQL's parser rejects.
type ParseError struct {
	// Message is the parser's message. It may quote part of the query
	// ("at or near …"): return it to the client, never log it.
	Message string
	// Position is the 1-based character position of the error in the
	// query string, 0 when unknown (as in PostgreSQL's ErrorResponse P field).
	Position int
}

var nearText = regexp.MustCompile(` at or near ".*"| at end of input`)

// Error is the message without any quoted query text, safe to log.
func (e *ParseError) Error() string {
	msg := nearText.ReplaceAllString(e.Message, "")
	if e.Position > 0 {
		return fmt.Sprintf("pgsql: %s at position %d", msg, e.Position)
	}
	return "pgsql: " + msg
}

// Analyze parses a query string, which may hold several statements separated
// by semicolons, and describes each. An empty query string (or only
// comments) has no statements. Errors from the parser are *ParseError.
func Analyze(sql string) (Analysis, error) {
	a, _, err := analyze(sql)
	return a, err
}

// analyze is Analyze, and for each statement the offsets of the constants
// that may be lifted out as parameters (liftable).
func analyze(sql string) (Analysis, [][]int32, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			return Analysis{}, nil, &ParseError{Message: pe.Message, Position: pe.Cursorpos}
		}
		return Analysis{}, nil, fmt.Errorf("pgsql: parse: %w", err)
	}
	var a Analysis
	var lifts [][]int32
	for _, raw := range tree.Stmts {
		text := statementText(sql, raw)
		st := analyzeStatement(raw.Stmt)
		st.Text = text
		fp, err := pg_query.Fingerprint(text)
		if err != nil {
			return Analysis{}, nil, fmt.Errorf("pgsql: fingerprint: %w", err)
		}
		st.Fingerprint = fp
		a.Statements = append(a.Statements, st)
		lifts = append(lifts, liftable(raw.Stmt))
	}
	a.Comment = commentAttributes(sql)
	return a, lifts, nil
}

func statementText(sql string, raw *pg_query.RawStmt) string {
	start := int(raw.StmtLocation)
	if start < 0 || start > len(sql) {
		start = 0
	}
	end := len(sql)
	if raw.StmtLen > 0 && start+int(raw.StmtLen) <= len(sql) {
		end = start + int(raw.StmtLen)
	}
	return strings.TrimSpace(sql[start:end])
}

// analyzer collects what one statement touches.
type analyzer struct {
	st      Statement
	colRefs []*pg_query.ColumnRef
	writes  map[*pg_query.RangeVar]bool
	ctes    map[string]bool
	rels    []*pg_query.RangeVar
	funcSet map[string]bool
}

func analyzeStatement(n *pg_query.Node) Statement {
	az := &analyzer{writes: map[*pg_query.RangeVar]bool{}, ctes: map[string]bool{}, funcSet: map[string]bool{}}
	az.st.Kind, az.st.Utility = az.classify(n)
	az.walk(n.ProtoReflect())
	az.columns()
	az.outputs(n)
	seen := map[Table]int{}
	for _, rv := range az.rels {
		if rv.Schemaname == "" && az.ctes[rv.Relname] {
			continue
		}
		t := Table{Schema: rv.Schemaname, Name: rv.Relname}
		if i, ok := seen[t]; ok {
			az.st.Tables[i].Write = az.st.Tables[i].Write || az.writes[rv]
			continue
		}
		seen[t] = len(az.st.Tables)
		t.Write = az.writes[rv]
		az.st.Tables = append(az.st.Tables, t)
	}
	return az.st
}

// classify sets Kind and marks the relations the statement writes.
func (az *analyzer) classify(n *pg_query.Node) (Kind, bool) {
	w := func(rv *pg_query.RangeVar) {
		if rv != nil {
			az.writes[rv] = true
		}
	}
	switch s := n.GetNode().(type) {
	case *pg_query.Node_SelectStmt:
		az.st.Limited = limited(s.SelectStmt)
		if s.SelectStmt.IntoClause != nil {
			az.st.Creates = true
			w(s.SelectStmt.IntoClause.Rel)
		}
		return KindSelect, false
	case *pg_query.Node_InsertStmt:
		w(s.InsertStmt.Relation)
		az.st.Returning = len(s.InsertStmt.ReturningList) > 0
		return KindInsert, false
	case *pg_query.Node_UpdateStmt:
		w(s.UpdateStmt.Relation)
		az.st.Returning = len(s.UpdateStmt.ReturningList) > 0
		return KindUpdate, false
	case *pg_query.Node_DeleteStmt:
		w(s.DeleteStmt.Relation)
		az.st.Returning = len(s.DeleteStmt.ReturningList) > 0
		return KindDelete, false
	case *pg_query.Node_MergeStmt:
		w(s.MergeStmt.Relation)
		az.st.Returning = len(s.MergeStmt.ReturningList) > 0
		return KindMerge, false
	case *pg_query.Node_CopyStmt:
		c := s.CopyStmt
		az.st.CopyProgram = c.IsProgram
		az.st.CopyFile = !c.IsProgram && c.Filename != ""
		if c.IsFrom {
			w(c.Relation)
			return KindCopyFrom, true
		}
		return KindCopyTo, true
	case *pg_query.Node_DeclareCursorStmt:
		az.st.Cursor = s.DeclareCursorStmt.Portalname
		if q, ok := s.DeclareCursorStmt.Query.GetNode().(*pg_query.Node_SelectStmt); ok {
			az.st.Limited = limited(q.SelectStmt)
		}
		return KindSelect, true
	case *pg_query.Node_PrepareStmt:
		// PREPARE name AS <query>: the kind of the prepared query.
		az.st.Prepared = s.PrepareStmt.Name
		k, _ := az.classify(s.PrepareStmt.Query)
		return k, true
	case *pg_query.Node_ExplainStmt:
		// EXPLAIN ANALYZE runs the statement: its writes are writes.
		az.classify(s.ExplainStmt.Query)
		return KindOther, true
	case *pg_query.Node_CreateTableAsStmt:
		az.st.Creates = true
		if s.CreateTableAsStmt.Into != nil {
			w(s.CreateTableAsStmt.Into.Rel)
		}
		if s.CreateTableAsStmt.IsSelectInto {
			return KindSelect, false
		}
		return KindDDL, true
	case *pg_query.Node_ViewStmt:
		az.st.Creates = true
		w(s.ViewStmt.View)
		return KindDDL, true
	case *pg_query.Node_RefreshMatViewStmt:
		w(s.RefreshMatViewStmt.Relation)
		return KindDDL, true
	case *pg_query.Node_CreateStmt:
		w(s.CreateStmt.Relation)
		return KindDDL, true
	case *pg_query.Node_AlterTableStmt:
		w(s.AlterTableStmt.Relation)
		return KindDDL, true
	case *pg_query.Node_TruncateStmt:
		for _, r := range s.TruncateStmt.Relations {
			w(r.GetRangeVar())
		}
		return KindDDL, true
	case *pg_query.Node_IndexStmt:
		w(s.IndexStmt.Relation)
		return KindDDL, true
	case *pg_query.Node_RenameStmt:
		w(s.RenameStmt.Relation)
		return KindDDL, true
	case *pg_query.Node_DropStmt:
		switch s.DropStmt.RemoveType {
		case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW,
			pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_FOREIGN_TABLE:
			for _, o := range s.DropStmt.Objects {
				az.dropped(o.GetList().GetItems())
			}
		}
		return KindDDL, true
	case *pg_query.Node_DoStmt:
		// An anonymous code block runs statements the parser cannot see
		// (they are a string): as powerful as creating a function.
		return KindDDL, true
	case *pg_query.Node_GrantStmt, *pg_query.Node_GrantRoleStmt,
		*pg_query.Node_CreateSchemaStmt, *pg_query.Node_CreateFunctionStmt, *pg_query.Node_AlterFunctionStmt,
		*pg_query.Node_CreateRoleStmt, *pg_query.Node_AlterRoleStmt, *pg_query.Node_DropRoleStmt,
		*pg_query.Node_CreateSeqStmt, *pg_query.Node_AlterSeqStmt, *pg_query.Node_CreateTrigStmt,
		*pg_query.Node_RuleStmt, *pg_query.Node_CreateExtensionStmt, *pg_query.Node_AlterExtensionStmt,
		*pg_query.Node_CreatedbStmt, *pg_query.Node_DropdbStmt, *pg_query.Node_AlterDatabaseStmt,
		*pg_query.Node_AlterDatabaseSetStmt, *pg_query.Node_AlterRoleSetStmt, *pg_query.Node_CommentStmt,
		*pg_query.Node_CreatePolicyStmt, *pg_query.Node_AlterPolicyStmt, *pg_query.Node_AlterOwnerStmt,
		*pg_query.Node_AlterObjectSchemaStmt, *pg_query.Node_CreateDomainStmt, *pg_query.Node_CompositeTypeStmt,
		*pg_query.Node_CreateEnumStmt, *pg_query.Node_DefineStmt, *pg_query.Node_CreateForeignTableStmt,
		*pg_query.Node_CreateForeignServerStmt, *pg_query.Node_CreateUserMappingStmt, *pg_query.Node_ImportForeignSchemaStmt,
		*pg_query.Node_CreatePublicationStmt, *pg_query.Node_CreateSubscriptionStmt, *pg_query.Node_AlterSystemStmt,
		*pg_query.Node_CreateTableSpaceStmt, *pg_query.Node_SecLabelStmt, *pg_query.Node_AlterDefaultPrivilegesStmt,
		*pg_query.Node_CreateEventTrigStmt, *pg_query.Node_CreateStatsStmt, *pg_query.Node_ReindexStmt,
		*pg_query.Node_ClusterStmt, *pg_query.Node_DropOwnedStmt, *pg_query.Node_ReassignOwnedStmt,
		*pg_query.Node_AlterTableSpaceOptionsStmt, *pg_query.Node_CreateCastStmt, *pg_query.Node_CreateConversionStmt,
		*pg_query.Node_CreateOpClassStmt, *pg_query.Node_CreatePlangStmt, *pg_query.Node_AlterEnumStmt,
		*pg_query.Node_AlterTypeStmt, *pg_query.Node_AlterDomainStmt, *pg_query.Node_AlterCollationStmt:
		return KindDDL, true
	case *pg_query.Node_VariableSetStmt:
		az.st.Setting = setting(s.VariableSetStmt)
		return KindSet, true
	case *pg_query.Node_VariableShowStmt:
		return KindShow, true
	case *pg_query.Node_TransactionStmt:
		return KindTransaction, true
	case *pg_query.Node_CallStmt:
		return KindCall, true
	case *pg_query.Node_FetchStmt:
		az.st.Cursor = s.FetchStmt.Portalname
	case *pg_query.Node_ClosePortalStmt:
		az.st.Cursor = s.ClosePortalStmt.Portalname
	case *pg_query.Node_ExecuteStmt:
		az.st.Prepared = s.ExecuteStmt.Name
	}
	return KindOther, true
}

// limited reports whether a SELECT has LIMIT n / FETCH FIRST n rows.
func limited(s *pg_query.SelectStmt) bool {
	if s == nil || s.LimitCount == nil {
		return false
	}
	if c, ok := s.LimitCount.GetNode().(*pg_query.Node_AConst); ok && c.AConst.Isnull {
		return false // LIMIT ALL / LIMIT NULL
	}
	return true
}

func setting(v *pg_query.VariableSetStmt) *Setting {
	s := &Setting{Name: strings.ToLower(v.Name), Local: v.IsLocal}
	switch v.Kind {
	case pg_query.VariableSetKind_VAR_SET_VALUE:
		var parts []string
		for _, a := range v.Args {
			parts = append(parts, constText(a))
		}
		s.Value = strings.Join(parts, ", ")
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		s.Name, s.Reset = "all", true
	case pg_query.VariableSetKind_VAR_SET_DEFAULT, pg_query.VariableSetKind_VAR_RESET:
		s.Reset = true
	default:
		// SET … FROM CURRENT, SET TRANSACTION, SET SESSION AUTHORIZATION
		// and the like: recorded by name (pg_query gives names such as
		// "transaction_isolation" or "session_authorization").
		if s.Name == "" {
			s.Name = strings.ToLower(v.Kind.String())
		}
	}
	return s
}

// constText renders a SET argument (a constant) as text.
func constText(n *pg_query.Node) string {
	c := n.GetAConst()
	if c == nil {
		if tc := n.GetTypeCast(); tc != nil {
			return constText(tc.Arg)
		}
		return ""
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Sval:
		return v.Sval.Sval
	case *pg_query.A_Const_Ival:
		return fmt.Sprint(v.Ival.Ival)
	case *pg_query.A_Const_Fval:
		return v.Fval.Fval
	case *pg_query.A_Const_Boolval:
		return fmt.Sprint(v.Boolval.Boolval)
	case *pg_query.A_Const_Bsval:
		return v.Bsval.Bsval
	}
	return ""
}

// walk visits every message of the tree once, collecting relations,
// functions, CTE names and stars.
func (az *analyzer) walk(m protoreflect.Message) {
	switch v := m.Interface().(type) {
	case *pg_query.RangeVar:
		az.rels = append(az.rels, v)
	case *pg_query.FuncCall:
		if f := az.addFunc(v.Funcname); f == "set_config" || f == "pg_catalog.set_config" {
			name := ""
			if len(v.Args) > 0 {
				name = strings.ToLower(constText(v.Args[0]))
			}
			if name == "" || lexerSetting[name] {
				az.st.setsLexer = true
			}
		}
	case *pg_query.CommonTableExpr:
		az.ctes[v.Ctename] = true
	case *pg_query.ColumnRef:
		if n := len(v.Fields); n > 0 && v.Fields[n-1].GetAStar() != nil {
			az.st.SelectStar = true
		}
		az.colRefs = append(az.colRefs, v)
	}
	eachChild(m, az.walk)
}

// eachChild calls f on every message directly inside m, in field
// declaration order, not m.Range's: protobuf-go deliberately varies
// Range's order from one binary build to the next, and the order of the
// tables and columns found is part of the analysis.
func eachChild(m protoreflect.Message, f func(protoreflect.Message)) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		walkField(m, fields.Get(i), f)
	}
}

// columns fills Statement.Columns from the column references, once all
// relations (and their aliases) are known.
func (az *analyzer) columns() {
	rowNames := az.rowNames()
	seen := map[string]bool{}
	for _, c := range az.colRefs {
		name, _ := refName(c, rowNames)
		if name != "" && !seen[name] {
			seen[name] = true
			az.st.Columns = append(az.st.Columns, name)
		}
	}
}

// outputs fills Statement.Outputs for a SELECT (also the query of DECLARE
// and PREPARE) whose result columns the text maps one to one onto
// expressions over plain relations.
func (az *analyzer) outputs(n *pg_query.Node) {
	var sel *pg_query.SelectStmt
	switch s := n.GetNode().(type) {
	case *pg_query.Node_SelectStmt:
		sel = s.SelectStmt
	case *pg_query.Node_DeclareCursorStmt:
		sel = s.DeclareCursorStmt.Query.GetSelectStmt()
	case *pg_query.Node_PrepareStmt:
		sel = s.PrepareStmt.Query.GetSelectStmt()
	}
	if sel == nil || sel.Op != pg_query.SetOperation_SETOP_NONE || sel.WithClause != nil ||
		len(sel.ValuesLists) > 0 || len(sel.TargetList) == 0 {
		return
	}
	for _, f := range sel.FromClause {
		if !plainFrom(f) {
			return
		}
	}
	rowNames := az.rowNames()
	outs := make([]Output, 0, len(sel.TargetList))
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil || rt.Val == nil {
			return
		}
		if c := rt.Val.GetColumnRef(); c != nil && len(c.Fields) > 0 && c.Fields[len(c.Fields)-1].GetAStar() != nil {
			return // * or t.* in the select list: many result columns
		}
		var refs []*pg_query.ColumnRef
		collectRefs(rt.Val.ProtoReflect(), &refs)
		var o Output
		if c := rt.Val.GetColumnRef(); c != nil {
			name, star := refName(c, rowNames)
			o.Direct = name != "" && !star
		}
		for _, c := range refs {
			name, _ := refName(c, rowNames)
			if name != "" && !slices.Contains(o.Columns, name) {
				o.Columns = append(o.Columns, name)
			}
		}
		outs = append(outs, o)
	}
	az.st.Outputs = outs
}

// plainFrom reports whether a FROM item is a relation or a join of
// relations, whose columns reach the result only as written.
func plainFrom(n *pg_query.Node) bool {
	switch f := n.GetNode().(type) {
	case *pg_query.Node_RangeVar:
		return true
	case *pg_query.Node_JoinExpr:
		return plainFrom(f.JoinExpr.Larg) && plainFrom(f.JoinExpr.Rarg)
	}
	return false
}

// collectRefs gathers the column references under an expression, except
// those only a count() reads (its arguments and FILTER): a count is a
// number of rows, not a value.
func collectRefs(m protoreflect.Message, out *[]*pg_query.ColumnRef) {
	switch v := m.Interface().(type) {
	case *pg_query.ColumnRef:
		*out = append(*out, v)
		return
	case *pg_query.FuncCall:
		if isCount(v.Funcname) {
			if v.Over != nil {
				collectRefs(v.Over.ProtoReflect(), out)
			}
			return
		}
	}
	eachChild(m, func(c protoreflect.Message) { collectRefs(c, out) })
}

func isCount(name []*pg_query.Node) bool {
	switch len(name) {
	case 1:
		return name[0].GetString_().GetSval() == "count"
	case 2:
		return name[0].GetString_().GetSval() == "pg_catalog" && name[1].GetString_().GetSval() == "count"
	}
	return false
}

// rowNames are the names that, alone in a column reference, mean a whole
// row: relation names and aliases.
func (az *analyzer) rowNames() map[string]bool {
	names := map[string]bool{}
	for _, rv := range az.rels {
		names[rv.Relname] = true
		if rv.Alias != nil {
			names[rv.Alias.Aliasname] = true
		}
	}
	return names
}

// refName is the name a column reference contributes to Columns: the
// column, or "*" (star true) for a * or a whole-row reference.
func refName(c *pg_query.ColumnRef, rowNames map[string]bool) (name string, star bool) {
	n := len(c.Fields)
	if n == 0 {
		return "", false
	}
	last := c.Fields[n-1]
	switch {
	case last.GetAStar() != nil:
		return "*", true
	case n == 1 && rowNames[last.GetString_().GetSval()]:
		return "*", true
	}
	return last.GetString_().GetSval(), false
}

// dropped records a relation named by a DROP (a list of name parts).
func (az *analyzer) dropped(parts []*pg_query.Node) {
	if len(parts) == 0 {
		return
	}
	rv := &pg_query.RangeVar{Relname: parts[len(parts)-1].GetString_().GetSval()}
	if len(parts) > 1 {
		rv.Schemaname = parts[len(parts)-2].GetString_().GetSval()
	}
	az.rels = append(az.rels, rv)
	az.writes[rv] = true
}

func (az *analyzer) addFunc(name []*pg_query.Node) string {
	parts := make([]string, 0, len(name))
	for _, p := range name {
		parts = append(parts, p.GetString_().GetSval())
	}
	f := strings.Join(parts, ".")
	if f == "" || az.funcSet[f] {
		return f
	}
	az.funcSet[f] = true
	az.st.Functions = append(az.st.Functions, f)
	return f
}
