package cli

import (
	"bufio"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/console"
)

func newConsoleCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Manage the web console's users",
		Long: `The web console is served by 'custos serve' on the API's address at
/console/ (see docs/console.md). Its users sign in with a password and a
TOTP code from an authenticator app. Each user has one role: admin
(users, policy, the console audit), investigator (alerts, timelines,
subject history — every search is recorded), approver (approvals inbox)
or auditor (read-only alerts, timelines, policy and the audit).`,
	}
	user := &cobra.Command{Use: "user", Short: "Add, list and disable console users"}
	user.AddCommand(newConsoleUserAddCmd(e), newConsoleUserListCmd(e), newConsoleUserDisableCmd(e, true), newConsoleUserDisableCmd(e, false),
		newConsoleUserPasswordCmd(e), newConsoleUserRoleCmd(e))
	cmd.AddCommand(user, newConsoleTOTPCmd(e))
	return cmd
}

func newConsoleTOTPCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "totp SECRET",
		Short: "Print the current TOTP code for a secret (for demos and scripts; use an authenticator app in earnest)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := totp.GenerateCode(strings.ToUpper(strings.TrimSpace(args[0])), time.Now())
			if err != nil {
				return &usageError{msg: "not a base32 TOTP secret"}
			}
			fmt.Fprintln(e.stdout, code)
			return nil
		},
	}
}

func newConsoleUserAddCmd(e *env) *cobra.Command {
	var cf configFlags
	var role string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|investigator|approver|auditor",
		Short: "Add a console user; prints the TOTP secret (and a generated password) once",
		Example: `  custos console user add alice --role admin
  printf '%s' "$PASSWORD" | custos console user add bob --role investigator --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := console.ParseRole(role)
			if err != nil {
				return &usageError{msg: "--role: " + err.Error()}
			}
			var password string
			if passwordStdin {
				line, err := bufio.NewReader(e.stdin).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			st, err := openStore(e, &cf)
			if err != nil {
				return err
			}
			defer st.Close()
			nu, err := console.CreateUser(e.ctx, st, args[0], r, password, 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "console user %s (%s) created; these are shown once:\n", nu.Name, nu.Role)
			if nu.Password != "" {
				fmt.Fprintf(e.stdout, "password:    %s\n", nu.Password)
			}
			fmt.Fprintf(e.stdout, "totp secret: %s\n", nu.TOTPSecret)
			fmt.Fprintf(e.stdout, "otpauth url: %s\n", nu.TOTPURL)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&role, "role", "", "admin, investigator, approver or auditor")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password (at least 10 characters) from stdin instead of generating one")
	return cmd
}

func newConsoleUserListCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List console users (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(e, &cf)
			if err != nil {
				return err
			}
			defer st.Close()
			us, err := st.ConsoleUsers(e.ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED")
			for _, u := range us {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, state, u.Created.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	return cmd
}

func newConsoleUserDisableCmd(e *env, disable bool) *cobra.Command {
	var cf configFlags
	use, short := "enable NAME", "Re-enable a console user"
	if disable {
		use, short = "disable NAME", "Disable a console user and end their sessions"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(e, &cf)
			if err != nil {
				return err
			}
			defer st.Close()
			return st.SetConsoleUserDisabled(e.ctx, args[0], disable)
		},
	}
	cf.register(cmd)
	return cmd
}

func newConsoleUserPasswordCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:     "password NAME",
		Short:   "Set a console user's password from stdin (at least 10 characters) and end their sessions",
		Example: `  printf '%s' "$PASSWORD" | custos console user password bob`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			line, err := bufio.NewReader(e.stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read password from stdin: %w", err)
			}
			st, err := openStore(e, &cf)
			if err != nil {
				return err
			}
			defer st.Close()
			return console.SetPassword(e.ctx, st, args[0], strings.TrimRight(line, "\r\n"), 0)
		},
	}
	cf.register(cmd)
	return cmd
}

func newConsoleUserRoleCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "role NAME admin|investigator|approver|auditor",
		Short: "Give a console user another role and end their sessions",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := console.ParseRole(args[1])
			if err != nil {
				return &usageError{msg: err.Error()}
			}
			st, err := openStore(e, &cf)
			if err != nil {
				return err
			}
			defer st.Close()
			return console.SetRole(e.ctx, st, args[0], r)
		},
	}
	cf.register(cmd)
	return cmd
}
