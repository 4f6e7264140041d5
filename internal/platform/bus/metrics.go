package bus

import (
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/observability"
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
		published: observability.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emporium_bus_published_total",
			Help: "Events published to JetStream, by subject and result (ok, duplicate, error).",
		}, []string{"subject", "result"})),
		consumed: observability.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emporium_bus_consumed_total",
			Help: "Deliveries handled, by consumer and result (ack, retry, deadletter, " +
				"deadletter_failed: kept because its dead letter could not be stored, " +
				"returned: given back unhandled by a consumer that stopped).",
		}, []string{"consumer", "result"})),
		handle: observability.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "emporium_bus_handle_seconds",
			Help:    "Time a consumer's handler took per delivery.",
			Buckets: prometheus.DefBuckets,
		}, []string{"consumer"})),
	}
}
