package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestConsoleUserCommands: add, change password and role, disable, list.
func TestConsoleUserCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, errOut := run(t, "init", "--data", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	steps := []struct {
		stdin string
		args  []string
		code  int
		want  string // in stdout or stderr
	}{
		{"first password 1\n", []string{"console", "user", "add", "bob", "--role", "investigator", "--password-stdin"}, 0, "totp secret"},
		{"second password 2\n", []string{"console", "user", "password", "bob"}, 0, ""},
		{"short\n", []string{"console", "user", "password", "bob"}, 1, "at least 10"},
		{"another password\n", []string{"console", "user", "password", "nobody"}, 1, "not found"},
		{"", []string{"console", "user", "role", "bob", "auditor"}, 0, ""},
		{"", []string{"console", "user", "role", "bob", "root"}, 2, "unknown role"},
		{"", []string{"console", "user", "disable", "bob"}, 0, ""},
		{"", []string{"console", "user", "list"}, 0, "auditor"},
	}
	for _, s := range steps {
		code, out, errOut := runIn(t, s.stdin, append(s.args, "--data", dir)...)
		if code != s.code || !strings.Contains(out+errOut, s.want) {
			t.Errorf("%v: exit %d (want %d), output %q %q, want %q", s.args, code, s.code, out, errOut, s.want)
		}
	}
}
