package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
)

// This file holds what the console keeps in the store (migration 0004):
// its users, the audit of their actions, actor suspensions, and roll-ups
// of the events table for the overview and the actor timelines.

// ConsoleUser is a person who logs in to the console.
type ConsoleUser struct {
	Name       string
	Role       string
	Password   string // PBKDF2 hash, never the password
	TOTPSecret string // base32
	Disabled   bool
	Created    time.Time
}

// ErrExists is returned when a console user of that name already exists.
var ErrExists = errors.New("already exists")

// CreateConsoleUser stores a new console user durably; ErrExists if the
// name is taken.
func (s *Store) CreateConsoleUser(ctx context.Context, u ConsoleUser) error {
	if u.Name == "" || u.Role == "" || u.Password == "" || u.TOTPSecret == "" {
		return fmt.Errorf("sqlite: create console user: name, role, password and totp are required")
	}
	created := u.Created
	if created.IsZero() {
		created = time.Now()
	}
	var exists bool
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		r, err := w.conn.ExecContext(context.Background(),
			`INSERT INTO console_users (name, role, password, totp, disabled, created) VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (name) DO NOTHING`,
			u.Name, u.Role, u.Password, u.TOTPSecret, u.Disabled, created.UnixNano())
		if err != nil {
			return custos.AppendResult{}, err
		}
		n, err := r.RowsAffected()
		exists = n == 0
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create console user %s: %w", u.Name, err)
	}
	if exists {
		return fmt.Errorf("sqlite: console user %s: %w", u.Name, ErrExists)
	}
	return nil
}

// SetConsoleUserDisabled disables or re-enables a console user. Disabling
// also ends the user's sessions (console_sessions, migration 0008).
func (s *Store) SetConsoleUserDisabled(ctx context.Context, name string, disabled bool) error {
	var found bool
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		r, err := w.conn.ExecContext(context.Background(), `UPDATE console_users SET disabled = ? WHERE name = ?`, disabled, name)
		if err != nil {
			return custos.AppendResult{}, err
		}
		n, err := r.RowsAffected()
		found = n > 0
		if err == nil && found && disabled {
			_, err = w.conn.ExecContext(context.Background(), `DELETE FROM console_sessions WHERE user = ?`, name)
		}
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: console user %s: %w", name, err)
	}
	if !found {
		return fmt.Errorf("sqlite: console user %s: %w", name, ErrNotFound)
	}
	return nil
}

// ConsoleUser returns one console user, or ErrNotFound.
func (s *Store) ConsoleUser(ctx context.Context, name string) (ConsoleUser, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT name, role, password, totp, disabled, created FROM console_users WHERE name = ?`, name)
	u, err := scanConsoleUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return ConsoleUser{}, ErrNotFound
	}
	if err != nil {
		return ConsoleUser{}, fmt.Errorf("sqlite: console user: %w", err)
	}
	return u, nil
}

// ConsoleUsers lists console users by name.
func (s *Store) ConsoleUsers(ctx context.Context) ([]ConsoleUser, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT name, role, password, totp, disabled, created FROM console_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: console users: %w", err)
	}
	defer rows.Close()
	var out []ConsoleUser
	for rows.Next() {
		u, err := scanConsoleUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: console users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func scanConsoleUser(sc scanner) (ConsoleUser, error) {
	var u ConsoleUser
	var created int64
	if err := sc.Scan(&u.Name, &u.Role, &u.Password, &u.TOTPSecret, &u.Disabled, &created); err != nil {
		return ConsoleUser{}, err
	}
	u.Created = time.Unix(0, created).UTC()
	return u, nil
}

// ConsoleAuditEntry is one console action.
type ConsoleAuditEntry struct {
	Seq    int64
	Time   time.Time
	User   string
	Role   string
	Action string
	Target string // masked values or keyed hashes only
	Detail string // masked values or keyed hashes only
	IP     string
	OK     bool
}

// AppendConsoleAudit records a console action durably.
func (s *Store) AppendConsoleAudit(ctx context.Context, e ConsoleAuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(),
			`INSERT INTO console_audit (time, user, role, action, target, detail, ip, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Time.UnixNano(), e.User, e.Role, e.Action, e.Target, e.Detail, e.IP, e.OK)
		return custos.AppendResult{Stored: 1}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: console audit: %w", err)
	}
	return nil
}

// ConsoleAudit returns console actions newest first: all users' when user
// is empty, with seq below before when before > 0.
func (s *Store) ConsoleAudit(ctx context.Context, user string, before int64, limit int) ([]ConsoleAuditEntry, error) {
	if limit <= 0 || limit > custos.MaxLimit {
		limit = custos.DefaultLimit
	}
	if before <= 0 {
		before = 1 << 62
	}
	q := `SELECT seq, time, user, role, action, target, detail, ip, ok FROM console_audit WHERE seq < ? ORDER BY seq DESC LIMIT ?`
	args := []any{before, limit}
	if user != "" {
		q = `SELECT seq, time, user, role, action, target, detail, ip, ok FROM console_audit WHERE user = ? AND seq < ? ORDER BY seq DESC LIMIT ?`
		args = []any{user, before, limit}
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: console audit: %w", err)
	}
	defer rows.Close()
	var out []ConsoleAuditEntry
	for rows.Next() {
		var e ConsoleAuditEntry
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.User, &e.Role, &e.Action, &e.Target, &e.Detail, &e.IP, &e.OK); err != nil {
			return nil, fmt.Errorf("sqlite: console audit: %w", err)
		}
		e.Time = time.Unix(0, t).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Suspension is an actor suspended from the console.
type Suspension struct {
	Actor  string
	By     string
	Reason string
	Time   time.Time
}

// SuspendActor records that an actor is suspended (replacing an earlier
// suspension of the same actor).
func (s *Store) SuspendActor(ctx context.Context, sp Suspension) error {
	if sp.Time.IsZero() {
		sp.Time = time.Now()
	}
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(),
			`INSERT OR REPLACE INTO console_suspensions (actor, by_user, reason, time) VALUES (?, ?, ?, ?)`,
			sp.Actor, sp.By, sp.Reason, sp.Time.UnixNano())
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: suspend actor: %w", err)
	}
	return nil
}

// LiftSuspension ends an actor's suspension; ErrNotFound if there was none.
func (s *Store) LiftSuspension(ctx context.Context, actor string) error {
	var found bool
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		r, err := w.conn.ExecContext(context.Background(), `DELETE FROM console_suspensions WHERE actor = ?`, actor)
		if err != nil {
			return custos.AppendResult{}, err
		}
		n, err := r.RowsAffected()
		found = n > 0
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: lift suspension: %w", err)
	}
	if !found {
		return fmt.Errorf("sqlite: suspension of %s: %w", actor, ErrNotFound)
	}
	return nil
}

// Suspended returns an actor's suspension, or ErrNotFound.
func (s *Store) Suspended(ctx context.Context, actor string) (Suspension, error) {
	var sp Suspension
	var t int64
	err := s.rdb.QueryRowContext(ctx, `SELECT actor, by_user, reason, time FROM console_suspensions WHERE actor = ?`, actor).
		Scan(&sp.Actor, &sp.By, &sp.Reason, &t)
	if errors.Is(err, sql.ErrNoRows) {
		return Suspension{}, ErrNotFound
	}
	if err != nil {
		return Suspension{}, fmt.Errorf("sqlite: suspension: %w", err)
	}
	sp.Time = time.Unix(0, t).UTC()
	return sp, nil
}

// Alert returns one alert by id, or an error wrapping custos.ErrNotFound.
func (s *Store) Alert(ctx context.Context, id string) (custos.AlertRecord, error) {
	var a custos.AlertRecord
	var first, last int64
	var status string
	var doc []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT id, rule, severity, actor, source_ip, first_seen, last_seen, status, summary, evidence FROM alerts WHERE id = ?`, id).
		Scan(&a.ID, &a.Rule, &a.Severity, &a.Actor, &a.SourceIP, &first, &last, &status, &a.Summary, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("sqlite: alert: %w", custos.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("sqlite: alert: %w", err)
	}
	a.FirstSeen, a.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	a.Status = custos.AlertStatus(status)
	a.Doc = doc
	return a, nil
}

// AlertCounts counts alerts of one status by severity.
func (s *Store) AlertCounts(ctx context.Context, status custos.AlertStatus) (map[string]int, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT severity, count(*) FROM alerts WHERE status = ? GROUP BY severity`, string(status))
	if err != nil {
		return nil, fmt.Errorf("sqlite: alert counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var sev string
		var n int
		if err := rows.Scan(&sev, &n); err != nil {
			return nil, fmt.Errorf("sqlite: alert counts: %w", err)
		}
		out[sev] = n
	}
	return out, rows.Err()
}

// ActorRisk ranks an actor by their unresolved alerts.
type ActorRisk struct {
	Actor  string
	Alerts int
	Score  int // critical 10, high 5, medium 2, low 1
}

// RiskiestActors ranks actors by the weighted severity of their open and
// acknowledged alerts.
func (s *Store) RiskiestActors(ctx context.Context, limit int) ([]ActorRisk, error) {
	rows, err := s.rdb.QueryContext(ctx, `
		SELECT actor, count(*), sum(CASE severity WHEN 'critical' THEN 10 WHEN 'high' THEN 5 WHEN 'medium' THEN 2 ELSE 1 END) AS score
		FROM alerts WHERE status IN ('open', 'acknowledged') AND actor != ''
		GROUP BY actor ORDER BY score DESC, actor LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: riskiest actors: %w", err)
	}
	defer rows.Close()
	var out []ActorRisk
	for rows.Next() {
		var r ActorRisk
		if err := rows.Scan(&r.Actor, &r.Alerts, &r.Score); err != nil {
			return nil, fmt.Errorf("sqlite: riskiest actors: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const (
	nsHour = int64(time.Hour)
	nsDay  = 24 * nsHour
)

// RollUpConsole counts up to max events not yet in the console roll-ups
// (console_volume, console_actor_days) and returns how many it counted;
// 0 means the roll-ups are up to date. The counting reads through the
// read pool; only the few resulting rows go through the writer. Run it
// from one goroutine.
func (s *Store) RollUpConsole(ctx context.Context, max int) (int, error) {
	var lo, top int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT seq FROM console_rollup WHERE id = 1`).Scan(&lo); err != nil {
		return 0, fmt.Errorf("sqlite: roll-up position: %w", err)
	}
	if err := s.rdb.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&top); err != nil {
		return 0, fmt.Errorf("sqlite: roll-up: %w", err)
	}
	if top <= lo {
		return 0, nil
	}
	hi := min(top, lo+int64(max))

	type vkey struct {
		hour             int64
		channel, categry string
	}
	type counts struct{ events, records int64 }
	vol := map[vkey]counts{}
	days := map[[2]string]counts{}
	dayOf := map[[2]string]int64{}
	query := func(q string, scan func(*sql.Rows) error) error {
		rows, err := s.rdb.QueryContext(ctx, q, lo, hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var counted int64
	err := query(`SELECT time / 3600000000000, channel, count(*), sum(records) FROM events WHERE seq > ? AND seq <= ? GROUP BY 1, 2`,
		func(r *sql.Rows) error {
			var k vkey
			var c counts
			if err := r.Scan(&k.hour, &k.channel, &c.events, &c.records); err != nil {
				return err
			}
			k.categry = "*"
			vol[k] = c
			counted += c.events
			return nil
		})
	if err == nil {
		err = query(`SELECT e.time / 3600000000000, e.channel, j.value, count(*), sum(e.records)
			FROM events e, json_each(CAST(e.doc AS TEXT), '$.categories') j
			WHERE e.seq > ? AND e.seq <= ? GROUP BY 1, 2, 3`,
			func(r *sql.Rows) error {
				var k vkey
				var c counts
				if err := r.Scan(&k.hour, &k.channel, &k.categry, &c.events, &c.records); err != nil {
					return err
				}
				vol[k] = c
				return nil
			})
	}
	if err == nil {
		err = query(`SELECT actor, time / 86400000000000, count(*), sum(records) FROM events WHERE seq > ? AND seq <= ? GROUP BY 1, 2`,
			func(r *sql.Rows) error {
				var actor string
				var day int64
				var c counts
				if err := r.Scan(&actor, &day, &c.events, &c.records); err != nil {
					return err
				}
				k := [2]string{actor, fmt.Sprint(day)}
				days[k] = c
				dayOf[k] = day
				return nil
			})
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: roll-up: %w", err)
	}
	_, err = s.submit(ctx, len(vol)+len(days), func(w *writer) (custos.AppendResult, error) {
		bg := context.Background()
		var cur int64
		if err := w.conn.QueryRowContext(bg, `SELECT seq FROM console_rollup WHERE id = 1`).Scan(&cur); err != nil {
			return custos.AppendResult{}, err
		}
		if cur != lo {
			return custos.AppendResult{}, nil // another roll-up counted this range
		}
		// Prepared once per roll-up: parsing the statement per row would
		// hold the writer (and so every ingest) many times longer.
		upVol, err := w.conn.PrepareContext(bg, `INSERT INTO console_volume (hour, channel, category, events, records) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (hour, channel, category) DO UPDATE SET events = events + excluded.events, records = records + excluded.records`)
		if err != nil {
			return custos.AppendResult{}, err
		}
		defer upVol.Close()
		for k, c := range vol {
			if _, err := upVol.Exec(k.hour, k.channel, k.categry, c.events, c.records); err != nil {
				return custos.AppendResult{}, err
			}
		}
		upDay, err := w.conn.PrepareContext(bg, `INSERT INTO console_actor_days (actor, day, events, records) VALUES (?, ?, ?, ?)
			ON CONFLICT (actor, day) DO UPDATE SET events = events + excluded.events, records = records + excluded.records`)
		if err != nil {
			return custos.AppendResult{}, err
		}
		defer upDay.Close()
		for k, c := range days {
			if _, err := upDay.Exec(k[0], dayOf[k], c.events, c.records); err != nil {
				return custos.AppendResult{}, err
			}
		}
		_, err = w.conn.ExecContext(bg, `UPDATE console_rollup SET seq = ? WHERE id = 1`, hi)
		return custos.AppendResult{}, err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: roll-up: %w", err)
	}
	return int(counted), nil
}

// VolumeRow is one hour's count of events of one channel and category
// ("*": all events).
type VolumeRow struct {
	Hour     time.Time
	Channel  string
	Category string
	Events   int64
	Records  int64
}

// ConsoleVolume returns the rolled-up hourly counts with from <= hour < to.
func (s *Store) ConsoleVolume(ctx context.Context, from, to time.Time) ([]VolumeRow, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT hour, channel, category, events, records FROM console_volume WHERE hour >= ? AND hour < ? ORDER BY hour`,
		from.UnixNano()/nsHour, (to.UnixNano()+nsHour-1)/nsHour)
	if err != nil {
		return nil, fmt.Errorf("sqlite: volume: %w", err)
	}
	defer rows.Close()
	var out []VolumeRow
	for rows.Next() {
		var r VolumeRow
		var h int64
		if err := rows.Scan(&h, &r.Channel, &r.Category, &r.Events, &r.Records); err != nil {
			return nil, fmt.Errorf("sqlite: volume: %w", err)
		}
		r.Hour = time.Unix(0, h*nsHour).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// ChannelActivity is the latest rolled-up hour with events on a channel.
type ChannelActivity struct {
	Channel  string
	LastHour time.Time
	Events   int64 // all time
}

// ConsoleChannels returns each channel's latest hour with events and its
// total, from the roll-up.
func (s *Store) ConsoleChannels(ctx context.Context) ([]ChannelActivity, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT channel, max(hour), sum(events) FROM console_volume WHERE category = '*' GROUP BY channel ORDER BY channel`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: channels: %w", err)
	}
	defer rows.Close()
	var out []ChannelActivity
	for rows.Next() {
		var c ChannelActivity
		var h int64
		if err := rows.Scan(&c.Channel, &h, &c.Events); err != nil {
			return nil, fmt.Errorf("sqlite: channels: %w", err)
		}
		c.LastHour = time.Unix(0, h*nsHour).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// ActorDay is one actor's rolled-up activity on one UTC day.
type ActorDay struct {
	Day     time.Time
	Events  int64
	Records int64
}

// ConsoleActorDays returns an actor's days with from <= day < to, oldest
// first; days without events are absent.
func (s *Store) ConsoleActorDays(ctx context.Context, actor string, from, to time.Time) ([]ActorDay, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT day, events, records FROM console_actor_days WHERE actor = ? AND day >= ? AND day < ? ORDER BY day`,
		actor, from.UnixNano()/nsDay, (to.UnixNano()+nsDay-1)/nsDay)
	if err != nil {
		return nil, fmt.Errorf("sqlite: actor days: %w", err)
	}
	defer rows.Close()
	var out []ActorDay
	for rows.Next() {
		var d ActorDay
		var day int64
		if err := rows.Scan(&day, &d.Events, &d.Records); err != nil {
			return nil, fmt.Errorf("sqlite: actor days: %w", err)
		}
		d.Day = time.Unix(0, day*nsDay).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
