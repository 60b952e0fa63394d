package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/postgres"
)

// notifyRetry is how often an api node that does not deliver alerts asks
// whether the one that does has gone.
const notifyRetry = 10 * time.Second

// startNotifier delivers the cluster's alerts (stored by the detectors in
// PostgreSQL) to the configured webhooks, syslog and e-mail. One api node
// delivers at a time, the one holding the "alerts" lock; the others wait
// and take over when it goes, so each alert is delivered by one node
// (at least once, as in the embedded server).
func (n *Node) startNotifier(runCtx context.Context) error {
	nt, err := server.NewNotifier(n.cfg.Alerts, n.Store, n.log)
	if nt == nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			unlock, err := n.Store.Lock(runCtx, "alerts")
			if err == nil {
				n.log.Info("delivering alerts", "sinks", len(nt.Sinks))
				nt.Run(runCtx)
				unlock()
				return
			}
			if !errors.Is(err, postgres.ErrLocked) && runCtx.Err() == nil {
				n.log.Warn("alert delivery lock", "err", err)
			}
			select {
			case <-runCtx.Done():
				return
			case <-time.After(notifyRetry):
			}
		}
	}()
	return nil
}
