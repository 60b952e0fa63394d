package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/custos-dev/custos/pgwire"
)

func TestPgPasswd(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"pg", "passwd"}, strings.NewReader("correct horse\n"), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	v, err := pgwire.ParseVerifier(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !v.CheckPassword("correct horse") || v.CheckPassword("wrong") {
		t.Error("verifier does not check the password")
	}
	out.Reset()
	if code := Main(context.Background(), []string{"pg", "passwd", "--user", "alice"}, strings.NewReader("pw\n"), &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "- name: alice\n  verifier: \"SCRAM-SHA-256$4096:") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
	if code := Main(context.Background(), []string{"pg", "passwd"}, strings.NewReader(""), &out, &errb); code == 0 {
		t.Error("empty input accepted")
	}
}
