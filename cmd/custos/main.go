// Command custos watches the people who are trusted with other people's
// personal information. See `custos --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/custos-dev/custos/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
