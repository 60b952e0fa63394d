package cli

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/cluster"
	"github.com/custos-dev/custos/server"
)

func newServeCmd(e *env) *cobra.Command {
	var cf configFlags
	var role, cpuProfile string
	cmd := &cobra.Command{
		Use:   "serve [-c custos.yaml] [--role gateway|detector|api|all]",
		Short: "Run the ingest API, event store and everything custos.yaml enables",
		Long: `Serve runs a Custos node from custos.yaml (see docs/config.md): the HTTP API
under /api/v1 (event and login ingest, history queries, /healthz, /metrics),
the event store in the data directory, and the consumers that analyse and
record events.

Every accepted batch is durable before its 2xx answer. On SIGINT or SIGTERM,
serve stops accepting requests, finishes those in flight and commits what
was queued, so nothing acknowledged is lost.

--role all (the default) is the embedded single process. The other roles run
one part of a cluster over NATS JetStream and PostgreSQL (cluster.bus.driver:
nats, cluster.store.driver: postgres; see docs/scale-out.md):

  gateway   the ingest and read API, and the PostgreSQL and HTTP gateways
            custos.yaml enables; events are published to the bus (or
            spooled on local disk while the bus is down) before the answer
  detector  indexes and analyses its share of the bus partitions; serves
            /healthz, /readyz and /metrics on cluster.listen
  api       the gateway's API plus approvals and the ledger (run one)

The data directory must have been prepared with 'custos init' (detectors do
not use it; gateways and the api node need its blind-index key, the same on
every node).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := cluster.ParseRole(role)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			if r != cluster.RoleDetector && !server.Initialized(cfg.DataDir) {
				return fmt.Errorf("%s is not a Custos data directory (run 'custos init --data %s' first)", cfg.DataDir, cfg.DataDir)
			}
			log := newLogger(e.stderr, cfg.Log)
			if r != cluster.RoleAll {
				return serveCluster(e, cfg, r, log)
			}
			srv, err := server.Start(e.ctx, cfg, log)
			if err != nil {
				return err
			}
			if srv.Addr() != "" {
				fmt.Fprintf(e.stdout, "custos: api on %s\n", srv.URL())
			}
			waitErr := srv.Wait(e.ctx)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			log.Info("shutting down")
			if err := srv.Close(ctx); err != nil {
				return err
			}
			return waitErr
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&role, "role", "all", "what this node runs: gateway, detector, api or all (the embedded single process)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this `file`, for go tool pprof (benchmarks)")
	return cmd
}
