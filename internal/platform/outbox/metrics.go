package outbox

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published prometheus.Counter
	failures  prometheus.Counter
	backlog   prometheus.Gauge
	lag       prometheus.Gauge
	delay     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		published: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "emporium_outbox_published_total",
			Help: "Outbox events published and marked.",
		})),
		failures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "emporium_outbox_failures_total",
			Help: "Relay rounds that failed (bus or database unavailable).",
		})),
		backlog: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "emporium_outbox_backlog",
			Help: "Outbox events not yet published.",
		})),
		lag: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "emporium_outbox_lag_seconds",
			Help: "Age of the oldest outbox event not yet published (0 when none).",
		})),
		delay: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "emporium_outbox_publish_delay_seconds",
			Help:    "Time from writing an event to the outbox to publishing it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		})),
	}
}

// register registers c, or returns the collector already registered under the
// same description, so two relays on one registry share their metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
