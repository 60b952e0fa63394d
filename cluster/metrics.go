package cluster

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the cluster's own Prometheus series (the API adds its
// ingest counters to the same registry). Labels carry partition numbers
// and kinds only, never actors or subjects.
type metrics struct {
	lag       *prometheus.GaugeVec
	processed *prometheus.CounterVec
	snapshots prometheus.Counter

	mu    sync.Mutex
	owned int
}

func newMetrics(reg *prometheus.Registry, n *Node) *metrics {
	m := &metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "custos_bus_lag_events",
			Help: "Events in a partition not yet delivered to its detector (per partition this node holds: p<n> actor, x<n> cross).",
		}, []string{"partition"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_detect_events_total",
			Help: "Events a detector has analysed, by kind and partition family (actor: also indexed; cross: copies by source and document).",
		}, []string{"kind", "family"}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_detect_snapshots_total",
			Help: "Partition snapshots saved.",
		}),
	}
	reg.MustRegister(m.lag, m.processed, m.snapshots,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_bus_spool_depth",
			Help: "Events in this gateway's local spool waiting for the bus.",
		}, func() float64 {
			if n.Publisher == nil || n.Publisher.Spool == nil {
				return 0
			}
			return float64(n.Publisher.Spool.Pending())
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "custos_bus_published_events_total",
			Help: "Events this gateway has published to the bus (directly or from the spool).",
		}, func() float64 {
			if n.Publisher == nil {
				return 0
			}
			p, _ := n.Publisher.Counts()
			return float64(p)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "custos_bus_spooled_events_total",
			Help: "Events this gateway has written to its spool because the bus did not take them.",
		}, func() float64 {
			if n.Publisher == nil {
				return 0
			}
			_, s := n.Publisher.Counts()
			return float64(s)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_bus_connected",
			Help: "1 when the node is connected to NATS.",
		}, func() float64 {
			if n.Bus != nil && n.Bus.Connected() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_detect_partitions_owned",
			Help: "Bus partitions (actor and cross) this detector holds.",
		}, func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return float64(m.owned)
		}),
	)
	return m
}

func (m *metrics) setLag(unit string, pending uint64) {
	m.lag.WithLabelValues(unit).Set(float64(pending))
}

// registerState adds the detector's loaded relationships and watchlist.
func (m *metrics) registerState(reg *prometheus.Registry, s *sharedState) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_detect_relationships",
			Help: "Need-to-know relationships this detector's engines consult (reloaded from PostgreSQL every 5 s).",
		}, func() float64 {
			r, _ := s.counts()
			return float64(r)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_detect_watchlist_entries",
			Help: "Watchlist entries (alert, approval, honeytoken) this detector's engines consult.",
		}, func() float64 {
			_, w := s.counts()
			return float64(w)
		}),
	)
}
