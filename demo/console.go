package demo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/custos-dev/custos/console"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/sqlite"
)

// ConsolePassword is the demo console users' password (a demo only: real
// users get theirs from 'custos console user add').
const ConsolePassword = "custos-demo-2026"

// consoleTour creates the demo's console users (an investigator and an
// auditor, with a known password) and prints how to sign in: the TOTP
// secret goes into an authenticator app, or 'custos console totp SECRET'
// prints the current code.
func consoleTour(ctx context.Context, out io.Writer, srv *server.Server) error {
	u := srv.ConsoleURL()
	if u == "" {
		return nil
	}
	fmt.Fprintf(out, "Console: %s  (password %s, then the 6-digit code for the user's TOTP secret)\n", u, ConsolePassword)
	for _, d := range []struct {
		name string
		role console.Role
	}{{"investigator", console.RoleInvestigator}, {"auditor", console.RoleAuditor}} {
		nu, err := console.CreateUser(ctx, srv.Store, d.name, d.role, ConsolePassword, 10000)
		if errors.Is(err, sqlite.ErrExists) {
			fmt.Fprintf(out, "  user %-13s exists from an earlier run of this data directory\n", d.name)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  user %-13s TOTP secret %s  (code now: custos console totp %s)\n", nu.Name, nu.TOTPSecret, nu.TOTPSecret)
	}
	fmt.Fprintln(out)
	return nil
}
