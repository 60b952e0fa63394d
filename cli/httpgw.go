package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/pquerna/otp/totp"
	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/httpgw"
)

func newHTTPCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "http",
		Short: "Tools for the HTTP gateway",
		Long: `The HTTP gateway (http_gateway: in custos.yaml, docs/httpgw.md) can log
employees in on its own page with a password and a one-time code. Each
user has a PBKDF2-SHA256 hash, never a clear password; 'custos http
passwd' makes one.`,
	}
	cmd.AddCommand(newHTTPPasswdCmd(e))
	return cmd
}

func newHTTPPasswdCmd(e *env) *cobra.Command {
	var user string
	var withTOTP bool
	cmd := &cobra.Command{
		Use:   "passwd [--user ID [--totp]] < password",
		Short: "Print a password hash for an HTTP gateway login user",
		Long: `Reads a password from the first line of standard input and prints its
hash for http_gateway.identity.login.users[].password_hash (PBKDF2-SHA256,
random salt, 600,000 iterations). With --user it prints a users: entry to
paste into custos.yaml (add roles and org_unit); --totp adds a new TOTP
secret and prints the otpauth:// URL to enrol it in an authenticator app.`,
		Example: `  printf '%s\n' "$PASSWORD" | custos http passwd --user emp-0007 --totp`,
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
			if withTOTP && user == "" {
				return &usageError{msg: "--totp needs --user"}
			}
			h, err := httpgw.HashPassword(pw)
			if err != nil {
				return fmt.Errorf("http passwd: %w", err)
			}
			if user == "" {
				fmt.Fprintln(e.stdout, h)
				return nil
			}
			fmt.Fprintf(e.stdout, "- id: %s\n  password_hash: %q\n", user, h)
			if withTOTP {
				key, err := totp.Generate(totp.GenerateOpts{Issuer: "Custos", AccountName: user})
				if err != nil {
					return fmt.Errorf("http passwd: totp: %w", err)
				}
				fmt.Fprintf(e.stdout, "  totp_secret: %s   # enrol: %s\n", key.Secret(), key.URL())
			}
			fmt.Fprintln(e.stdout, "  roles: []")
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "print a users: entry for this employee id")
	cmd.Flags().BoolVar(&withTOTP, "totp", false, "add a new TOTP secret to the entry")
	return cmd
}
