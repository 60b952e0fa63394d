package pgwire

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestRefusedReadWithSideEffectsRollsBack: a single SELECT, outside a
// transaction block, that calls a function which writes, and whose result
// the gateway refuses after it ran (a limit cut), leaves nothing written;
// the same read not refused keeps its write.
func TestRefusedReadWithSideEffectsRollsBack(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL(g.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE FUNCTION log_read() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
		BEGIN INSERT INTO notes VALUES (1, 'read'); RETURN 1; END $$`); err != nil {
		t.Fatal(err)
	}
	notes := func() int {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// lim may see 5 rows: the sixth cuts the result with an error.
	lim := g.connect("lim", "")
	_, err = lim.Exec(ctx, "SELECT pid, phone, log_read() FROM passengers ORDER BY pid", pgx.QueryExecModeSimpleProtocol)
	if err == nil || !strings.Contains(err.Error(), "limits this statement") {
		t.Fatalf("limit cut: %v", err)
	}
	if n := notes(); n != 0 {
		t.Errorf("the refused read left %d rows written, want 0", n)
	}
	if _, err := lim.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("the session after the refusal: %v", err)
	}

	// Not refused: the function's write stays.
	alice := g.connect("alice", "")
	if _, err := alice.Exec(ctx, "SELECT pid, log_read() FROM passengers WHERE pid = 1", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if n := notes(); n != 1 {
		t.Errorf("an allowed read left %d rows written, want 1", n)
	}
}
