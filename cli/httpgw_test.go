package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/httpgw"
)

func TestHTTPPasswd(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"http", "passwd"}, strings.NewReader("correct horse\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if h := strings.TrimSpace(out.String()); !httpgw.CheckPassword(h, "correct horse") {
		t.Fatalf("hash %q does not check", h)
	}
	out.Reset()
	if code := Main(context.Background(), []string{"http", "passwd", "--user", "emp-1", "--totp"}, strings.NewReader("pw\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var users []config.HTTPLoginUser
	if err := yaml.Unmarshal(out.Bytes(), &users); err != nil {
		t.Fatalf("entry is not YAML: %v\n%s", err, out.String())
	}
	if len(users) != 1 || users[0].ID != "emp-1" || users[0].TOTPSecret == "" || !httpgw.CheckPassword(users[0].PasswordHash, "pw") {
		t.Fatalf("entry %+v", users)
	}
}
