package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/custos-dev/custos"
)

// This file holds the console's sessions (migration 0008). The console
// hashes each session cookie before it reaches the store: only the hash is
// a key here, so reading the table signs nobody in.

// ConsoleSession is one signed-in console user.
type ConsoleSession struct {
	TokenHash string // hex SHA-256 of the cookie value
	User      string
	Role      string
	Source    string // "local" (password and TOTP) or "oidc"
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time // absolute end, whatever the activity
}

// CreateConsoleSession stores a new session durably, and in the same
// transaction removes sessions past their absolute end or unused since
// idleBefore, so the table holds live sessions only.
func (s *Store) CreateConsoleSession(ctx context.Context, ss ConsoleSession, idleBefore time.Time) error {
	if ss.TokenHash == "" || ss.User == "" || ss.Role == "" || ss.Source == "" || ss.Expires.IsZero() {
		return fmt.Errorf("sqlite: create console session: token hash, user, role, source and expiry are required")
	}
	if ss.Created.IsZero() {
		ss.Created = time.Now()
	}
	if ss.LastSeen.IsZero() {
		ss.LastSeen = ss.Created
	}
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		bg := context.Background()
		if _, err := w.conn.ExecContext(bg, `DELETE FROM console_sessions WHERE expires <= ? OR last_seen < ?`,
			ss.Created.UnixNano(), idleBefore.UnixNano()); err != nil {
			return custos.AppendResult{}, err
		}
		_, err := w.conn.ExecContext(bg,
			`INSERT INTO console_sessions (token_hash, user, role, source, created, last_seen, expires) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			ss.TokenHash, ss.User, ss.Role, ss.Source, ss.Created.UnixNano(), ss.LastSeen.UnixNano(), ss.Expires.UnixNano())
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create console session: %w", err)
	}
	return nil
}

// ConsoleSession returns the session with this token hash, or ErrNotFound.
// Expiry is the caller's to judge (it knows the idle timeout).
func (s *Store) ConsoleSession(ctx context.Context, tokenHash string) (ConsoleSession, error) {
	ss := ConsoleSession{TokenHash: tokenHash}
	var created, seen, expires int64
	err := s.rdb.QueryRowContext(ctx,
		`SELECT user, role, source, created, last_seen, expires FROM console_sessions WHERE token_hash = ?`, tokenHash).
		Scan(&ss.User, &ss.Role, &ss.Source, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return ConsoleSession{}, ErrNotFound
	}
	if err != nil {
		return ConsoleSession{}, fmt.Errorf("sqlite: console session: %w", err)
	}
	ss.Created, ss.LastSeen, ss.Expires = time.Unix(0, created).UTC(), time.Unix(0, seen).UTC(), time.Unix(0, expires).UTC()
	return ss, nil
}

// TouchConsoleSession records that a session was used at t (it never
// moves last_seen back).
func (s *Store) TouchConsoleSession(ctx context.Context, tokenHash string, t time.Time) error {
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(),
			`UPDATE console_sessions SET last_seen = max(last_seen, ?) WHERE token_hash = ?`, t.UnixNano(), tokenHash)
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: touch console session: %w", err)
	}
	return nil
}

// DeleteConsoleSession ends one session (logout). Ending a session that
// does not exist is not an error.
func (s *Store) DeleteConsoleSession(ctx context.Context, tokenHash string) error {
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(), `DELETE FROM console_sessions WHERE token_hash = ?`, tokenHash)
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete console session: %w", err)
	}
	return nil
}

// DeleteConsoleSessions ends every session of a user and says how many
// there were.
func (s *Store) DeleteConsoleSessions(ctx context.Context, user string) (int, error) {
	var n int64
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		r, err := w.conn.ExecContext(context.Background(), `DELETE FROM console_sessions WHERE user = ?`, user)
		if err != nil {
			return custos.AppendResult{}, err
		}
		n, err = r.RowsAffected()
		return custos.AppendResult{}, err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete console sessions of %s: %w", user, err)
	}
	return int(n), nil
}

// SetConsoleUserPassword replaces a console user's password hash and ends
// their sessions in the same transaction: whoever knew the old password
// is signed out with it.
func (s *Store) SetConsoleUserPassword(ctx context.Context, name, passwordHash string) error {
	if passwordHash == "" {
		return fmt.Errorf("sqlite: console user %s: empty password hash", name)
	}
	return s.updateConsoleUser(ctx, name, `UPDATE console_users SET password = ? WHERE name = ?`, passwordHash)
}

// SetConsoleUserRole gives a console user another role and ends their
// sessions in the same transaction (a session carries the role it was
// made with).
func (s *Store) SetConsoleUserRole(ctx context.Context, name, role string) error {
	if role == "" {
		return fmt.Errorf("sqlite: console user %s: empty role", name)
	}
	return s.updateConsoleUser(ctx, name, `UPDATE console_users SET role = ? WHERE name = ?`, role)
}

// updateConsoleUser runs an UPDATE of one user (query takes the new value
// and the name) and deletes the user's sessions; ErrNotFound if no such
// user.
func (s *Store) updateConsoleUser(ctx context.Context, name, query string, value any) error {
	var found bool
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		bg := context.Background()
		r, err := w.conn.ExecContext(bg, query, value, name)
		if err != nil {
			return custos.AppendResult{}, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return custos.AppendResult{}, err
		}
		found = n > 0
		if found {
			_, err = w.conn.ExecContext(bg, `DELETE FROM console_sessions WHERE user = ?`, name)
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
