package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// StackConfig configures Stack.
type StackConfig struct {
	// Logger receives the access log and is the base of each request's logger.
	// Nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the HTTP metrics. Nil means a private registry.
	Registerer prometheus.Registerer
	// Service is the value of the metrics' constant service label.
	Service string
	// TracerProvider starts the server spans. Nil means otel's global one.
	TracerProvider trace.TracerProvider
	// Propagator reads the caller's trace context. Nil means W3C trace
	// context and baggage.
	Propagator propagation.TextMapPropagator
	// RequestTimeout bounds the work of one request (its context's
	// deadline), so a dependency that hangs turns into a 503, not a hung
	// client. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// AccessReads thins out the access lines of successful reads
	// (LOG_ACCESS_READS); the zero value logs them all.
	AccessReads AccessReads
}

// DefaultRequestTimeout is a request's deadline when StackConfig names none.
const DefaultRequestTimeout = 30 * time.Second

// Stack wraps h (usually a Router) in Emporium's middleware, outermost first:
//
//  1. AssignRequestID, so that every response, even a panic's, carries
//     X-Request-ID and everything inside can log the id;
//  2. Tracing, so that the span covers all the work and its trace id is known
//     to the access log;
//  3. AccessLog, which puts the request's logger (request_id, trace_id) in the
//     context and logs the final status, including the 500 Recover writes;
//  4. Recover, so that a panic is answered and logged with that logger;
//  5. Metrics, which counts a panic passing through it as a 500;
//  6. Deadline, giving the request's context its deadline;
//  7. BodyLimit, closest to the handler, bounding what it can read.
func Stack(h http.Handler, cfg StackConfig) http.Handler {
	h = BodyLimit(h)
	h = Deadline(cfg.RequestTimeout)(h)
	h = Metrics(cfg.Registerer, cfg.Service)(h)
	h = Recover(h)
	h = AccessLog(cfg.Logger, cfg.AccessReads)(h)
	h = Tracing(cfg.TracerProvider, cfg.Propagator)(h)
	return AssignRequestID(h)
}

// Deadline gives every request's context a deadline of d (or
// DefaultRequestTimeout), which database calls and calls to other services
// honour. A handler that fails because the deadline passed answers 503
// unavailable with Retry-After, whatever error it returns (see WriteError).
func Deadline(d time.Duration) func(http.Handler) http.Handler {
	if d <= 0 {
		d = DefaultRequestTimeout
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// BodyLimit caps every request body at MaxBodyBytes (http.MaxBytesHandler);
// reading past it fails with *http.MaxBytesError, which Decode answers with
// 413 body_too_large.
func BodyLimit(next http.Handler) http.Handler {
	return http.MaxBytesHandler(next, MaxBodyBytes)
}
