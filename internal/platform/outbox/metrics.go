package outbox

import (
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/observability"
)

type metrics struct {
	published prometheus.Counter
	failures  prometheus.Counter
	parked    prometheus.Counter
	parkedNow prometheus.Gauge
	backlog   prometheus.Gauge
	lag       prometheus.Gauge
	delay     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		published: observability.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "emporium_outbox_published_total",
			Help: "Outbox events published and marked.",
		})),
		failures: observability.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "emporium_outbox_failures_total",
			Help: "Relay rounds that failed (bus or database unavailable).",
		})),
		parked: observability.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "emporium_outbox_parked_total",
			Help: "Outbox events parked because the bus can never take them.",
		})),
		parkedNow: observability.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "emporium_outbox_parked",
			Help: "Outbox events parked now, waiting for an operator to requeue or delete them.",
		})),
		backlog: observability.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "emporium_outbox_backlog",
			Help: "Outbox events not yet published (parked ones aside).",
		})),
		lag: observability.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "emporium_outbox_lag_seconds",
			Help: "Age of the oldest outbox event not yet published, parked ones aside (0 when none).",
		})),
		delay: observability.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "emporium_outbox_publish_delay_seconds",
			Help:    "Time from writing an event to the outbox to publishing it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		})),
	}
}
