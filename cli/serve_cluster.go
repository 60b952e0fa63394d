package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/custos-dev/custos/cluster"
	"github.com/custos-dev/custos/config"
)

// serveCluster runs one cluster node until the context ends.
func serveCluster(e *env, cfg config.Config, role cluster.Role, log *slog.Logger) error {
	n, err := cluster.Start(e.ctx, cfg, role, log)
	if err != nil {
		return err
	}
	if n.Addr() != "" {
		fmt.Fprintf(e.stdout, "custos: %s %s on http://%s\n", role, n.ID, n.Addr())
	} else {
		fmt.Fprintf(e.stdout, "custos: %s %s running\n", role, n.ID)
	}
	waitErr := n.Wait(e.ctx)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log.Info("shutting down")
	if err := n.Close(ctx); err != nil {
		return err
	}
	return waitErr
}
