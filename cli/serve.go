package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/server"
)

func newServeCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "serve [-c custos.yaml]",
		Short: "Run the ingest API, event store and everything custos.yaml enables",
		Long: `Serve runs a Custos node from custos.yaml (see docs/config.md): the HTTP API
under /api/v1 (event and login ingest, history queries, /healthz, /metrics),
the event store in the data directory, and the consumers that analyse and
record events.

Every accepted batch is durable before its 2xx answer. On SIGINT or SIGTERM,
serve stops accepting requests, finishes those in flight and commits what
was queued, so nothing acknowledged is lost.

The data directory must have been prepared with 'custos init'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			if !server.Initialized(cfg.DataDir) {
				return fmt.Errorf("%s is not a Custos data directory (run 'custos init --data %s' first)", cfg.DataDir, cfg.DataDir)
			}
			log := newLogger(e.stderr, cfg.Log)
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
	return cmd
}
