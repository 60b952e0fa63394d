package api

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	events   *prometheus.CounterVec
	batches  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_api_requests_total", Help: "API requests by route pattern and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "custos_api_request_duration_seconds", Help: "API request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_ingest_events_total", Help: "Events received by kind (access, login) and result (stored, duplicate, rejected).",
		}, []string{"kind", "result"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_ingest_batches_total", Help: "Ingest batches by kind and result (accepted, rejected, failed).",
		}, []string{"kind", "result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.events, m.batches)
	return m
}
