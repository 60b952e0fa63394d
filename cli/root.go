package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Version is the build version, set by the linker for releases.
var Version = "dev"

// env is what every command gets from Main: the streams and the context.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the custos command line with args and returns the exit code:
// 0 on success, 1 on failure, 2 on a usage error, or a code a command
// chose (custos ledger verify returns 3 when the log is not intact).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "custos:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError marks errors in how a command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "custos",
		Short: "Custos watches the people who are trusted with personal information",
		Long: `Custos sits between an organization's staff and the personal data they
handle. Every access to a person's data becomes an access event that is
checked by policy, recorded durably, analysed for insider abuse and
credential stuffing, and used to trace leaks back to their source.

Start with 'custos demo' to see the whole system on a synthetic airline,
or 'custos init' and 'custos serve' to run it for real.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: fmt.Sprintf("%s (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		newDemoCmd(e),
		newInitCmd(e),
		newServeCmd(e),
		newTokenCmd(e),
		newConfigCmd(e),
		newPolicyCmd(e),
		newApproveCmd(e),
		newScanCmd(e),
		newDetectCmd(e),
		newEvalCmd(e),
		newTraceCmd(e),
		newLedgerCmd(e),
		newConsoleCmd(e),
		newPgCmd(e),
		newHTTPCmd(e),
		newVersionCmd(e),
	)
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of custos",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(e.stdout, "custos", Version)
			return nil
		},
	}
}
