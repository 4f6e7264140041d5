package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"emporium/internal/platform/observability"
)

// durationBuckets are OpenTelemetry's recommended boundaries for
// http.server.request.duration, in seconds.
var durationBuckets = []float64{
	0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
}

// statusLabels holds the label value of every valid status code, so that
// labelling a request allocates nothing.
var statusLabels = func() []string {
	s := make([]string, 600)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// Metrics records, for each request, http_server_request_duration_seconds (a
// histogram labelled, after OpenTelemetry's HTTP conventions,
// http_request_method, http_route and http_response_status_code) and
// http_server_active_requests (a gauge by http_request_method). The route is
// the pattern that served the request, or "unmatched". Both carry a constant
// service label when service is not empty. They are registered on reg (a
// fresh private registry when nil); registering twice on one registry, as a
// service does for its public and internal handlers, shares the collectors.
// Metrics panics when reg holds an incompatible collector of the same name,
// a wiring mistake.
func Metrics(reg prometheus.Registerer, service string) func(http.Handler) http.Handler {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var constLabels prometheus.Labels
	if service != "" {
		constLabels = prometheus.Labels{"service": service}
	}
	duration := observability.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "http_server_request_duration_seconds",
		Help:        "Duration of HTTP server requests.",
		Buckets:     durationBuckets,
		ConstLabels: constLabels,
	}, []string{"http_request_method", "http_route", "http_response_status_code"}))
	active := observability.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name:        "http_server_active_requests",
		Help:        "Number of HTTP server requests in flight.",
		ConstLabels: constLabels,
	}, []string{"http_request_method"}))

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info, r := infoOf(r)
			method := methodLabel(r.Method)
			inFlight := active.WithLabelValues(method)
			inFlight.Inc()
			rec := Record(w)
			finished := false
			defer func() {
				inFlight.Dec()
				status := rec.Status()
				switch {
				case !finished:
					// A panic is unwinding; Recover, further out, answers 500.
					status = http.StatusInternalServerError
				case status == 0:
					status = http.StatusOK
				}
				duration.WithLabelValues(method, info.routeOf(), statusLabel(status)).
					Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(rec, r)
			finished = true
		})
	}
}

// MetricsHandler serves g's metrics in the Prometheus exposition format, for
// the internal listener's /metrics.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
