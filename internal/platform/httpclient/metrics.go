package httpclient

import (
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/observability"
)

// metrics are one Client's series, curried with its peer label.
type metrics struct {
	duration     prometheus.ObserverVec
	retries      prometheus.Counter
	breakerState prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, peer string) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	duration := observability.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_client_request_duration_seconds",
		Help:    "Duration of outbound HTTP requests (each attempt) by peer service.",
		Buckets: prometheus.DefBuckets,
	}, []string{"peer", "method", "code"}))
	retries := observability.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_client_retries_total",
		Help: "Outbound HTTP requests retried, by peer service.",
	}, []string{"peer"}))
	state := observability.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "http_client_breaker_state",
		Help: "Circuit breaker state by peer service: 0 closed, 1 half-open, 2 open.",
	}, []string{"peer"}))
	labels := prometheus.Labels{"peer": peer}
	m := &metrics{
		duration:     duration.MustCurryWith(labels),
		retries:      retries.With(labels),
		breakerState: state.With(labels),
	}
	m.breakerState.Set(0)
	return m
}
