package ledger

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"strings"

	"github.com/transparency-dev/tessera/storage/mysql"
)

//go:embed mysql_schema.sql
var mysqlSchema string

// OpenMySQLLog creates Tessera's tables in db if they are missing and
// returns the MySQL log storage: a Tessera driver for Open (via
// Options.MySQL) and a Fetcher for Verify (VerifyOptions.Log).
func OpenMySQLLog(ctx context.Context, db *sql.DB) (*mysql.Storage, error) {
	// Comments go first: they contain semicolons.
	var lines []string
	for _, line := range strings.Split(mysqlSchema, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, line)
		}
	}
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("ledger: mysql schema: %w", err)
		}
	}
	s, err := mysql.New(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("ledger: mysql driver: %w", err)
	}
	return s, nil
}
