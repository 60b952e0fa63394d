package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/sqlite"
)

// TestEraseSubject erases one person: their history is gone, another
// person's is intact, the ledger still verifies against the store (the
// erased entries noted, not flagged), and the erasure is audited without
// naming the person.
func TestEraseSubject(t *testing.T) {
	ctx := context.Background()
	cfg, admin := initDir(t)
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base := srv.URL() + "/api/v1"
	at := time.Now().Add(-time.Hour)
	for i, v := range []string{"11010119900307123X", "11010119900307123X", "440306198512120029"} {
		if code, body := do(t, "POST", base+"/events", admin, accessJSON("er-"+string(rune('a'+i)), "emp-1", "cn_id", v, at)); code != 200 {
			t.Fatalf("event: %d %s", code, body)
		}
	}
	waitCaughtUp(t, srv.URL())
	if code, body := do(t, "POST", base+"/subjects/cn_id/11010119900307123x/erase", admin, ""); code != 200 || !strings.Contains(body, `"events":2`) {
		t.Fatalf("erase: %d %s", code, body)
	}
	if _, body := do(t, "GET", base+"/subjects/cn_id/11010119900307123X/accesses", admin, ""); strings.Contains(body, "er-a") {
		t.Errorf("erased subject still has a history: %s", body)
	}
	if _, body := do(t, "GET", base+"/subjects/cn_id/440306198512120029/accesses", admin, ""); !strings.Contains(body, "er-c") {
		t.Errorf("another subject's history is gone: %s", body)
	}
	if code, _ := do(t, "POST", base+"/subjects/cn_id/x/erase", admin, ""); code != http.StatusBadRequest {
		t.Errorf("invalid subject: %d", code)
	}
	audits, _ := srv.Store.Audit(ctx, "test", custos.Query{})
	if len(audits) == 0 || audits[0].Action != "subject.erased" || strings.Contains(audits[0].Object, "1101") {
		t.Errorf("audit: %+v", audits)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := ledger.Verify(ctx, filepath.Join(cfg.DataDir, "ledger"), ledger.VerifyOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Intact() || !strings.Contains(strings.Join(rep.Notes, "\n"), "erased") {
		t.Errorf("ledger after erasure: %+v", rep)
	}
}
