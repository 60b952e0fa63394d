package dbscan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/scan"
)

// Options tune a database scan.
type Options struct {
	// Sample is how many rows of each table are read; 0 means 1000.
	Sample int
	// Reveal puts a raw example value in findings instead of a masked one.
	Reveal bool
	// MinConfidence drops column findings below it.
	MinConfidence float64
	// TableTimeout bounds the sampling of one table; 0 means one minute.
	TableTimeout time.Duration
}

// IsDSN reports whether arg names a database rather than a file.
func IsDSN(arg string) bool {
	low := strings.ToLower(arg)
	return strings.HasPrefix(low, "postgres://") || strings.HasPrefix(low, "postgresql://") ||
		strings.HasPrefix(low, "mysql://") || strings.HasPrefix(low, "sqlite:")
}

// dialect is what differs between the databases.
type dialect struct {
	name   string
	quote  func(string) string
	tables string // schema, table, column, data type, row estimate
}

func quoteDouble(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteBack(s string) string   { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

var postgres = dialect{
	name:  "postgres",
	quote: quoteDouble,
	tables: `SELECT c.table_schema, c.table_name, c.column_name, c.data_type,
       COALESCE((SELECT cl.reltuples::bigint FROM pg_catalog.pg_class cl
                 JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
                 WHERE n.nspname = c.table_schema AND cl.relname = c.table_name), -1)
FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE t.table_type = 'BASE TABLE'
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\_%'
ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
}

var mysqlDialect = dialect{
	name:  "mysql",
	quote: quoteBack,
	tables: `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, COALESCE(t.TABLE_ROWS, -1)
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE t.TABLE_TYPE = 'BASE TABLE'
  AND (c.TABLE_SCHEMA = DATABASE() OR DATABASE() IS NULL AND c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys'))
ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`,
}

var sqlite = dialect{
	name:  "sqlite",
	quote: quoteDouble,
	tables: `SELECT '', m.name, p.name, p.type, -1
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, p.cid`,
}

// open connects to dsn and returns the database, its dialect and the
// name it is reported under (the DSN without credentials or options).
func open(dsn string) (*sql.DB, dialect, string, error) {
	low := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(low, "postgres://"), strings.HasPrefix(low, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, dialect{}, "", errors.New("dbscan: malformed postgres URL")
		}
		db, err := sql.Open("pgx", dsn)
		return db, postgres, redact(u), err
	case strings.HasPrefix(low, "mysql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, dialect{}, "", errors.New("dbscan: malformed mysql URL")
		}
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net = "tcp"
		cfg.Addr = u.Host
		if u.Port() == "" {
			cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
		}
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		for k, vs := range u.Query() {
			if cfg.Params == nil {
				cfg.Params = map[string]string{}
			}
			cfg.Params[k] = vs[0]
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, dialect{}, "", fmt.Errorf("dbscan: mysql: %w", err)
		}
		return sql.OpenDB(conn), mysqlDialect, redact(u), nil
	case strings.HasPrefix(low, "sqlite:"):
		path := dsn[len("sqlite:"):]
		path = strings.TrimPrefix(path, "//")
		if _, err := os.Stat(path); err != nil {
			return nil, dialect{}, "", fmt.Errorf("dbscan: sqlite: %w", err)
		}
		// mode=ro opens the file read-only; query_only refuses writes on
		// the connection as a second guard.
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
		return db, sqlite, "sqlite:" + path, err
	}
	return nil, dialect{}, "", fmt.Errorf("dbscan: %q is not a postgres://, mysql:// or sqlite: DSN", redactArg(dsn))
}

// redact drops user, password and options from a URL.
func redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func redactArg(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		return dsn[:i+3] + "…"
	}
	return "…"
}

type column struct {
	name, sqlType string
}

type table struct {
	schema, name string
	rows         int64
	columns      []column
}

// Scan samples every table of the database dsn names and sends one
// finding per (column, data type) to sink, table by table. All reads run
// in one read-only transaction; no value leaves the process except the
// masked example in each finding (raw with Options.Reveal). A table that
// cannot be read is a note and the scan goes on; the error returned is a
// failure to connect or enumerate, or of the sink.
func Scan(ctx context.Context, dsn string, opt Options, sink scan.Sink) (scan.Summary, error) {
	start := time.Now()
	if opt.Sample <= 0 {
		opt.Sample = 1000
	}
	if opt.TableTimeout <= 0 {
		opt.TableTimeout = time.Minute
	}
	var sum scan.Summary
	db, d, system, err := open(dsn)
	if err != nil {
		return sum, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: d.name != "sqlite"})
	if err != nil {
		return sum, fmt.Errorf("dbscan: %s: begin read-only transaction: %w", system, err)
	}
	defer tx.Rollback() // read-only: nothing to commit

	tables, err := listTables(ctx, tx, d)
	if err != nil {
		return sum, fmt.Errorf("dbscan: %s: list tables: %w", system, err)
	}
	for _, t := range tables {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("dbscan: %w", err)
		}
		if d.name == "sqlite" {
			t.rows = sqliteRows(ctx, tx, t.name)
		}
		findings, err := sampleTable(ctx, tx, d, t, opt)
		where := t.name
		if t.schema != "" {
			where = t.schema + "." + t.name
		}
		if err != nil {
			sum.Errors++
			if err := sink.Note(scan.Note{Path: system + "/" + where, Kind: scan.NoteError, Message: mask.Text(err.Error())}); err != nil {
				return sum, err
			}
			continue
		}
		sum.Tables++
		sum.Columns += len(t.columns)
		for _, f := range findings {
			f.System = system
			sum.Count(f)
			if err := sink.Finding(f); err != nil {
				return sum, err
			}
		}
	}
	sum.Duration = time.Since(start)
	sum.Seconds = sum.Duration.Seconds()
	return sum, nil
}

func listTables(ctx context.Context, tx *sql.Tx, d dialect) ([]table, error) {
	rows, err := tx.QueryContext(ctx, d.tables)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []table
	for rows.Next() {
		var schema, name, col, typ string
		var est int64
		if err := rows.Scan(&schema, &name, &col, &typ, &est); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].schema != schema || out[n-1].name != name {
			if est < 0 {
				est = -1
			}
			out = append(out, table{schema: schema, name: name, rows: est})
		}
		out[len(out)-1].columns = append(out[len(out)-1].columns, column{name: col, sqlType: typ})
	}
	return out, rows.Err()
}

// sqliteRows estimates a SQLite table's rows by its largest rowid, which
// costs a B-tree descent instead of a count; -1 for WITHOUT ROWID tables.
func sqliteRows(ctx context.Context, tx *sql.Tx, name string) int64 {
	var n sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max(rowid) FROM "+quoteDouble(name)).Scan(&n); err != nil {
		return -1
	}
	return n.Int64
}

// stats accumulates what the detectors found in one column's values.
type stats struct {
	nonNull  int
	shapes   int // values shaped like the name hint's type (see plausible)
	byType   map[custos.DataType]*typeStats
	hint     custos.DataType
	prefix   []byte // the column name as context for the detectors
	now      time.Time
	detector pii.Detector
	matches  []pii.Match
}

type typeStats struct {
	minors  int // cn_id values of children under scan.MinorAge
	matched int
	confSum float64
	example string
}

// sampleTable reads up to opt.Sample rows of t and classifies its columns.
func sampleTable(ctx context.Context, tx *sql.Tx, d dialect, t table, opt Options) ([]scan.Finding, error) {
	ctx, cancel := context.WithTimeout(ctx, opt.TableTimeout)
	defer cancel()
	now := time.Now()
	cols := make([]string, len(t.columns))
	st := make([]*stats, len(t.columns))
	for i, c := range t.columns {
		cols[i] = d.quote(c.name)
		st[i] = &stats{byType: map[custos.DataType]*typeStats{}, hint: nameHint(c.name), now: now}
		st[i].prefix = []byte(contextPrefix(st[i].hint, c.name))
	}
	from := d.quote(t.name)
	if t.schema != "" && d.name != "sqlite" {
		from = d.quote(t.schema) + "." + from
	}
	q := fmt.Sprintf("SELECT %s FROM %s LIMIT %d", strings.Join(cols, ", "), from, opt.Sample)
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
		for i, v := range vals {
			b, ok := text(v)
			if !ok {
				continue
			}
			buf = st[i].add(buf, b, opt.Reveal)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	var out []scan.Finding
	for i, c := range t.columns {
		for _, f := range st[i].classify() {
			if f.Confidence < opt.MinConfidence {
				continue
			}
			f.Schema, f.Table, f.Column, f.SQLType, f.RowEstimate = t.schema, t.name, c.name, c.sqlType, t.rows
			out = append(out, f)
		}
	}
	return out, nil
}

// contextLabels are the labels a form would print before a value of each
// type.
var contextLabels = map[custos.DataType]string{
	custos.TypeCNName:      "姓名：",
	custos.TypeCNAddress:   "地址：",
	custos.TypeDateOfBirth: "出生日期：",
	custos.TypeCNMobile:    "手机：",
	custos.TypeCNID:        "身份证号：",
	custos.TypeBankCard:    "银行卡号：",
	custos.TypeCNPassport:  "护照号：",
}

// contextPrefix is put before each value of a column so that the column
// name counts as the context words before a value in text do: the label
// of the type the name suggests, or the name itself. The detectors still
// validate the value; a label only moves their confidence.
func contextPrefix(hint custos.DataType, column string) string {
	if l, ok := contextLabels[hint]; ok {
		return l
	}
	return column + "："
}

// text renders a sampled value as the text the detectors read; false for
// NULL. Dates print as dates, so that a birth date reads as one.
func text(v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	case int64:
		return strconv.AppendInt(nil, x, 10), true
	case float64:
		return strconv.AppendFloat(nil, x, 'f', -1, 64), true
	case bool:
		return nil, true
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return []byte(x.Format("2006-01-02")), true
		}
		return []byte(x.Format(time.RFC3339)), true
	}
	return fmt.Append(nil, v), true
}

// add runs the detectors over one value. Values that are not text (bytes
// that are not UTF-8, or hold NUL) are counted as present but not read.
func (s *stats) add(buf []byte, v []byte, reveal bool) []byte {
	s.nonNull++
	if len(v) == 0 || !utf8.Valid(v) || strings.IndexByte(string(v), 0) >= 0 {
		return buf
	}
	if s.hint != "" && plausible(s.hint, v) {
		s.shapes++
	}
	buf = append(append(buf[:0], s.prefix...), v...)
	s.matches = s.detector.AppendMatches(s.matches[:0], buf)
	seen := map[custos.DataType]bool{}
	for _, m := range s.matches {
		if m.Offset < len(s.prefix) || seen[m.Type] {
			continue
		}
		seen[m.Type] = true
		ts := s.byType[m.Type]
		if ts == nil {
			ts = &typeStats{}
			s.byType[m.Type] = ts
		}
		ts.matched++
		ts.confSum += m.Confidence
		if m.Type == custos.TypeCNID && scan.MinorByID(string(buf[m.Offset:m.Offset+m.Length]), s.now) {
			ts.minors++
		}
		if ts.example == "" {
			raw := string(buf[m.Offset : m.Offset+m.Length])
			ts.example = raw
			if !reveal {
				ts.example = mask.Partial(m.Type, raw)
			}
		}
	}
	return buf
}

// plausible reports whether v is shaped like a value of t for the types
// whose detectors favour precision over recall (addresses, dates of
// birth): there a column name with fitting values is evidence enough.
func plausible(t custos.DataType, v []byte) bool {
	s := strings.TrimSpace(string(v))
	switch t {
	case custos.TypeCNAddress:
		return utf8.RuneCountInString(s) >= 6 && strings.ContainsAny(s, "省市区县镇乡村路街道号弄巷")
	case custos.TypeDateOfBirth:
		_, err1 := time.Parse("2006-01-02", s[:min(len(s), 10)])
		_, err2 := time.Parse("20060102", s)
		return err1 == nil || err2 == nil
	}
	return false
}

// classify turns a column's statistics into findings, strongest first.
//
// From values: confidence is the mean detector confidence, scaled by how
// much of the column holds the type (×1 from half the values up, down to
// ×0.6 for a type in few values, such as phone numbers in a free-text
// remark column), and raised when the column name agrees (half the
// remaining doubt). A type is reported when found in at least 3 values
// or 5% of them, so that a chance match in a large sample is not.
//
// From the name alone: an empty column (nothing sampled) named like a
// type gets 0.4; a column named like an address or birth date whose
// values are mostly shaped like one gets 0.6. A name the values
// contradict (a "name" column of product names) is not reported.
func (s *stats) classify() []scan.Finding {
	var out []scan.Finding
	for t, ts := range s.byType {
		frac := float64(ts.matched) / float64(s.nonNull)
		if ts.matched < 3 && frac < 0.05 {
			continue
		}
		conf := ts.confSum / float64(ts.matched)
		if frac < 0.5 {
			conf *= 0.6 + 0.8*frac
		}
		basis := "values"
		if t == s.hint {
			conf = 1 - (1-conf)/2
			basis = "values+name"
		}
		out = append(out, finding(t, conf, basis, s.nonNull, ts.matched, ts.example))
		if ts.minors > 0 {
			// PIPL Art. 28: information of children under 14 is sensitive
			// as a whole; say how many sampled IDs are theirs.
			f := finding(t, conf, basis, s.nonNull, ts.minors, "")
			f.Category = custos.CategoryMinor
			out = append(out, f)
		}
	}
	if s.hint != "" && s.byType[s.hint] == nil {
		switch {
		case s.nonNull == 0:
			out = append(out, finding(s.hint, 0.4, "name", 0, 0, ""))
		case s.shapes*2 >= s.nonNull:
			out = append(out, finding(s.hint, 0.6, "name", s.nonNull, 0, ""))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Confidence != out[j].Confidence {
			return out[i].Confidence > out[j].Confidence
		}
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Category < out[j].Category
	})
	return out
}

func finding(t custos.DataType, conf float64, basis string, sampled, matched int, example string) scan.Finding {
	cat := custos.CategoryOf(t)
	return scan.Finding{
		Type: t, Category: cat, Sensitive: custos.Sensitive(cat), Confidence: conf,
		Basis: basis, Sampled: sampled, Matched: matched, Value: example,
	}
}
