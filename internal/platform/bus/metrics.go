package bus

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published *prometheus.CounterVec
	consumed  *prometheus.CounterVec
	handle    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		published: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emporium_bus_published_total",
			Help: "Events published to JetStream, by subject and result (ok, duplicate, error).",
		}, []string{"subject", "result"})),
		consumed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emporium_bus_consumed_total",
			Help: "Deliveries handled, by consumer and result (ack, retry, deadletter).",
		}, []string{"consumer", "result"})),
		handle: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "emporium_bus_handle_seconds",
			Help:    "Time a consumer's handler took per delivery.",
			Buckets: prometheus.DefBuckets,
		}, []string{"consumer"})),
	}
}

// register registers c, or returns the collector already registered under the
// same description, so two buses on one registry share their metrics.
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
