package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custos-dev/custos"
)

// CreateToken stores a token (only its hash). It fails if the ID or the
// hash is already stored. The write is durable when it returns.
func (s *Store) CreateToken(ctx context.Context, t custos.Token) error {
	if t.ID == "" || t.Hash == "" {
		return fmt.Errorf("sqlite: create token: id and hash are required")
	}
	scopes := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = string(sc)
	}
	created := t.Created
	if created.IsZero() {
		created = time.Now()
	}
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		_, err := w.conn.ExecContext(context.Background(),
			`INSERT INTO tokens (id, name, scopes, hash, created) VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.Name, strings.Join(scopes, ","), t.Hash, created.UnixNano())
		return custos.AppendResult{}, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token whose secret hashes to hash, or
// ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (custos.Token, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT id, name, scopes, hash, created FROM tokens WHERE hash = ?`, hash)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return custos.Token{}, ErrNotFound
	}
	if err != nil {
		// Never echo the hash of a presented secret into logs.
		return custos.Token{}, fmt.Errorf("sqlite: look up token: %w", err)
	}
	return t, nil
}

// ListTokens returns all tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]custos.Token, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, scopes, hash, created FROM tokens ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	var out []custos.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken deletes a token by ID, or returns ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	_, err := s.submit(ctx, 1, func(w *writer) (custos.AppendResult, error) {
		r, err := w.conn.ExecContext(context.Background(), `DELETE FROM tokens WHERE id = ?`, id)
		if err != nil {
			return custos.AppendResult{}, err
		}
		if n, err := r.RowsAffected(); err != nil {
			return custos.AppendResult{}, err
		} else if n == 0 {
			return custos.AppendResult{}, ErrNotFound
		}
		return custos.AppendResult{}, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanToken(sc scanner) (custos.Token, error) {
	var t custos.Token
	var scopes string
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &scopes, &t.Hash, &created); err != nil {
		return custos.Token{}, err
	}
	if scopes != "" {
		for _, s := range strings.Split(scopes, ",") {
			t.Scopes = append(t.Scopes, custos.Scope(s))
		}
	}
	t.Created = time.Unix(0, created).UTC()
	return t, nil
}
