package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/pgwire"
)

func newPgCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pg",
		Short: "Tools for the PostgreSQL gateway",
		Long: `The PostgreSQL gateway (postgres: in custos.yaml, docs/pgwire.md) logs
employees in with its own user directory. Each user has a SCRAM-SHA-256
verifier, never a clear password; 'custos pg passwd' makes one.`,
	}
	cmd.AddCommand(newPgPasswdCmd(e))
	return cmd
}

func newPgPasswdCmd(e *env) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "passwd [--user NAME] < password",
		Short: "Print a SCRAM-SHA-256 verifier for a gateway user's password",
		Long: `Reads a password from the first line of standard input and prints its
SCRAM-SHA-256 verifier (random salt, 4096 iterations, PostgreSQL's format).
With --user it prints a users: entry to paste into the postgres: section of
custos.yaml (add roles and org_unit).`,
		Example: `  printf '%s\n' "$PASSWORD" | custos pg passwd --user alice`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			line, err := bufio.NewReader(e.stdin).ReadString('\n')
			pw := strings.TrimRight(line, "\r\n")
			if pw == "" {
				if err != nil {
					return &usageError{msg: "no password on standard input"}
				}
				return &usageError{msg: "empty password"}
			}
			v, err := pgwire.NewVerifier(pw)
			if err != nil {
				return fmt.Errorf("pg passwd: %w", err)
			}
			if user == "" {
				fmt.Fprintln(e.stdout, v)
				return nil
			}
			fmt.Fprintf(e.stdout, "- name: %s\n  verifier: %q\n  roles: []\n", user, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "print a users: entry for this user name")
	return cmd
}
