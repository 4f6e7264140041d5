package cache

import (
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/observability"
)

// Metric names, for tests and dashboards.
const (
	requestsMetric = "emporium_cache_requests_total"
	errorsMetric   = "emporium_cache_errors_total"
)

// metrics are one store's counters, their labels resolved once.
type metrics struct {
	hit, miss, unanswered prometheus.Counter
	errors                *prometheus.CounterVec // by op
}

// newMetrics registers (or finds) the cache metrics on reg and returns those
// of the store kind on the cache named name. Names are chosen by the code
// that wires a service, one or two per service, so the labels stay few.
func newMetrics(reg prometheus.Registerer, name, store string) metrics {
	if name == "" {
		name = defaultName
	}
	requests := observability.Register(reg, prometheus.NewCounterVec(
		prometheus.CounterOpts{
			Name: requestsMetric,
			Help: "Cache lookups by cache, store (memory or redis) and result: hit, " +
				"miss, or error when the store did not answer (the caller saw a miss).",
		}, []string{"cache", "store", "result"}))
	errors := observability.Register(reg, prometheus.NewCounterVec(
		prometheus.CounterOpts{
			Name: errorsMetric,
			Help: "Cache store calls that failed or timed out, by cache, store and " +
				"operation (get, set, delete, generation, bump).",
		}, []string{"cache", "store", "op"}))
	return metrics{
		hit:        requests.WithLabelValues(name, store, "hit"),
		miss:       requests.WithLabelValues(name, store, "miss"),
		unanswered: requests.WithLabelValues(name, store, "error"),
		errors:     errors.MustCurryWith(prometheus.Labels{"cache": name, "store": store}),
	}
}
