package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/custos-dev/custos/approval"
)

// TestApproveCommands runs the CLI against a real approvals handler on a
// loopback server; identity comes from the bearer token, as in serve.
func TestApproveCommands(t *testing.T) {
	svc, err := approval.New([]approval.Rule{{ID: "sup", ApproverRoles: []string{"supervisor"}}})
	if err != nil {
		t.Fatal(err)
	}
	people := map[string]approval.Identity{
		"tok-agent": {ID: "a1", Roles: []string{"agent"}},
		"tok-sup":   {ID: "s1", Roles: []string{"supervisor"}},
	}
	h := &approval.Handler{Service: svc, Identity: func(r *http.Request) (approval.Identity, error) {
		who, ok := people[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			return approval.Identity{}, errors.New("unknown token")
		}
		return who, nil
	}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &out}
		cmd := newApproveCmd(e)
		cmd.SetArgs(append(args, "--server", srv.URL))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	out, err := run("request", "--token", "tok-agent", "--kind", "unmask", "--system", "pss", "--reason", "refund dispute C-88")
	if err != nil || !strings.Contains(out, "pending: needs 1 approval(s) under rule sup") {
		t.Fatalf("%v\n%s", err, out)
	}
	id := strings.Fields(out)[0]
	if out, err := run("grant", id, "--token", "tok-agent"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("self-approval: %v %s", err, out)
	}
	out, err = run("list", "--token", "tok-sup")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "refund dispute") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run("grant", id, "--token", "tok-sup", "--comment", "ok")
	if err != nil || !strings.Contains(out, "granted (1/1 approvals), until") {
		t.Fatalf("grant: %v\n%s", err, out)
	}
	out, err = run("show", id, "--token", "tok-agent")
	if err != nil || !strings.Contains(out, `"status": "granted"`) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	t.Setenv("CUSTOS_TOKEN", "")
	if _, err := run("list"); err == nil {
		t.Error("no token accepted")
	}
}
