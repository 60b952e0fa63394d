package cli

import (
	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/demo"
)

func newDemoCmd(e *env) *cobra.Command {
	var opt demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on a simulated airline and print where to look",
		Long: `Demo starts Custos on a temporary data directory (removed on exit), back-fills
a week of a simulated airline's activity — agents looking up passengers for
their bookings — and then runs the airline live: a passenger-service back
office (100,000 synthetic passengers, generated on first start and kept in
the data directory) behind the HTTP gateway, which staff use through the
gateway (masked, need-to-know, quotas, export approvals), other systems'
events through the ingest API, and insiders and attackers mixed in. It
prints the console address with two users and their TOTP secrets, the
gateway address with curl examples, the API address, an admin token and
queries to try. Everything is synthetic: the ID numbers and phones have
valid checksums and belong to nobody.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demo.Run(e.ctx, opt, e.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.DataDir, "data", "", "keep the demo's data in this directory instead of a temporary one")
	f.StringVar(&opt.Listen, "listen", "", "API address (default 127.0.0.1:8870, or a free port if taken)")
	f.IntVar(&opt.Employees, "employees", 60, "simulated staff")
	f.IntVar(&opt.History, "history", 7, "days of history to back-fill")
	f.Float64Var(&opt.Speedup, "speed", 60, "simulated seconds per wall-clock second")
	f.DurationVar(&opt.Duration, "duration", 0, "stop after this long (default: run until Ctrl-C)")
	f.Uint64Var(&opt.Seed, "seed", 1, "simulation seed")
	f.IntVar(&opt.Passengers, "passengers", 0, "passengers in the back office (default 100000)")
	f.StringVar(&opt.GatewayListen, "gateway-listen", "", "HTTP gateway address (default 127.0.0.1:8880, or a free port if taken)")
	return cmd
}
