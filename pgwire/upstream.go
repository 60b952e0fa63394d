package pgwire

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/custos-dev/custos"
)

// connectTimeout bounds connecting to the upstream server.
const connectTimeout = 15 * time.Second

// pgConfig builds the upstream connection settings for a login.
func (s *Server) pgConfig(cred Credential, database string) (*pgconn.Config, error) {
	host, port, err := net.SplitHostPort(s.Upstream.Address)
	if err != nil {
		return nil, fmt.Errorf("upstream address: %w", err)
	}
	mode := s.Upstream.SSLMode
	if mode == "" {
		mode = "prefer"
	}
	dsn := fmt.Sprintf("host=%s port=%s sslmode=%s connect_timeout=%d", quoteDSN(host), quoteDSN(port), quoteDSN(mode), int(connectTimeout/time.Second))
	if s.Upstream.CAFile != "" {
		dsn += " sslrootcert=" + quoteDSN(s.Upstream.CAFile)
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("upstream config: %w", err)
	}
	// Whatever the environment says, the gateway's own settings win.
	cfg.User = cred.User
	cfg.Password = cred.Password
	cfg.Database = database
	cfg.RuntimeParams = map[string]string{}
	return cfg, nil
}

func quoteDSN(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// credentialFor picks the upstream login of the first of the user's roles
// that has one.
func (s *Server) credentialFor(u User) (Credential, string, bool) {
	for _, r := range u.Roles {
		if c, ok := s.Upstream.Credentials[r]; ok {
			return c, r, true
		}
	}
	return Credential{}, "", false
}

// connectUpstream opens the employee's upstream connection with their
// role's credentials, finishes the client's startup with the upstream's
// parameters and the gateway's own backend key, and returns the session.
func (s *Server) connectUpstream(ctx context.Context, st *started) (*session, error) {
	cred, _, ok := s.credentialFor(st.user)
	if !ok {
		return nil, fmt.Errorf("no upstream credentials for the user's roles")
	}
	if st.params["replication"] != "" && st.params["replication"] != "false" {
		return nil, fmt.Errorf("replication connections are not proxied")
	}
	db := st.params["database"]
	if db == "" {
		db = s.Upstream.Database
	}
	cfg, err := s.pgConfig(cred, db)
	if err != nil {
		return nil, err
	}
	for k, v := range st.params {
		switch k {
		case "user", "database", "replication":
		default:
			cfg.RuntimeParams[k] = v
		}
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pc, err := pgconn.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, err
	}
	hj, err := pc.Hijack()
	if err != nil {
		pc.Close(context.Background())
		return nil, err
	}
	key := s.cancels.register(upstreamKey{address: s.Upstream.Address, pid: hj.PID, secret: hj.SecretKey})
	be := st.be
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range hj.ParameterStatuses {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: key.pid, SecretKey: key.secret[:]})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		s.cancels.unregister(key)
		hj.Conn.Close()
		return nil, err
	}
	actor := custos.Actor{ID: st.user.Name, Roles: st.user.Roles, OrgUnit: st.user.OrgUnit}
	return newSession(s, st, hj, key, actor, db), nil
}

// relation is what the upstream catalogue says about a table OID.
type relation struct {
	name    string // schema.table
	kind    byte   // pg_class.relkind
	columns map[int16]string
	loaded  time.Time
	// viewdef is the definition of a view or materialized view
	// (pg_get_viewdef), whose lineage views.go reads.
	viewdef string
	view    viewAnalysis
}

// metaTTL is how long a relation's names are cached; a dropped and
// recreated table can reuse an OID, so names are re-read now and then.
const metaTTL = time.Minute

// metaCache resolves table OIDs and attribute numbers to names through a
// small pool of the gateway's own upstream connections per database.
type metaCache struct {
	s     *Server
	mu    sync.Mutex
	pools map[string]*pgxpool.Pool
	rels  map[metaKey]*relation
	names map[metaName]nameEntry // relation names as statements write them → OIDs
	funcs map[metaName]volatileEntry
}

type metaKey struct {
	db  string
	oid uint32
}

func newMetaCache(s *Server) *metaCache {
	return &metaCache{s: s, pools: map[string]*pgxpool.Pool{}, rels: map[metaKey]*relation{}, names: map[metaName]nameEntry{}}
}

func (m *metaCache) pool(ctx context.Context, db string) (*pgxpool.Pool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.pools[db]; ok {
		return p, nil
	}
	cred := m.s.Upstream.Meta
	if cred.User == "" {
		for _, c := range m.s.Upstream.Credentials {
			if cred.User == "" || c.User < cred.User { // deterministic choice
				cred = c
			}
		}
	}
	cc, err := m.s.pgConfig(cred, db)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pc.ConnConfig.Config = *cc
	pc.MaxConns = 2
	pc.MaxConnIdleTime = 30 * time.Second
	p, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	m.pools[db] = p
	return p, nil
}

// lookup returns the relations of oids (missing ones are not in the map).
func (m *metaCache) lookup(ctx context.Context, db string, oids []uint32) (map[uint32]*relation, error) {
	out := make(map[uint32]*relation, len(oids))
	var missing []uint32
	now := time.Now()
	m.mu.Lock()
	for _, o := range oids {
		if r, ok := m.rels[metaKey{db, o}]; ok && now.Sub(r.loaded) < metaTTL {
			out[o] = r
		} else {
			missing = append(missing, o)
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
	rows, err := p.Query(ctx, `SELECT c.oid, n.nspname, c.relname, c.relkind::text, a.attnum, a.attname,
			CASE WHEN a.attnum = 1 AND c.relkind IN ('v', 'm') THEN coalesce(pg_catalog.pg_get_viewdef(c.oid), '') ELSE '' END
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.oid = ANY($1)`, missing)
	if err != nil {
		return nil, fmt.Errorf("catalogue look-up: %w", err)
	}
	defer rows.Close()
	fresh := map[uint32]*relation{}
	for rows.Next() {
		var oid uint32
		var schema, table, kind, col, viewdef string
		var attnum int16
		if err := rows.Scan(&oid, &schema, &table, &kind, &attnum, &col, &viewdef); err != nil {
			return nil, fmt.Errorf("catalogue look-up: %w", err)
		}
		r := fresh[oid]
		if r == nil {
			r = &relation{name: schema + "." + table, columns: map[int16]string{}, loaded: now}
			if kind != "" {
				r.kind = kind[0]
			}
			fresh[oid] = r
		}
		r.columns[attnum] = col
		if viewdef != "" {
			r.viewdef = viewdef
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalogue look-up: %w", err)
	}
	m.mu.Lock()
	for o, r := range fresh {
		m.rels[metaKey{db, o}] = r
		out[o] = r
	}
	m.mu.Unlock()
	return out, nil
}

func (m *metaCache) close() {
	m.mu.Lock()
	pools := m.pools
	m.pools = map[string]*pgxpool.Pool{}
	m.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
}
