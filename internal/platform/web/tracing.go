package web

import (
	"net"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the instrumentation scope of the server spans.
const tracerName = "emporium/internal/platform/web"

// w3cPropagator is the propagator Tracing uses unless told otherwise: W3C
// trace context and baggage, whether or not the process set a global one.
var w3cPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Tracing starts a server span for each request, as a child of the trace
// context in the request's headers (W3C traceparent), named by method and
// route once the route is known ("GET /api/v1/products/{id}"). A 5xx answer
// marks the span as an error. A nil tp means otel's global provider, a nil
// prop W3C trace context and baggage.
func Tracing(
	tp trace.TracerProvider, prop propagation.TextMapPropagator,
) func(http.Handler) http.Handler {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = w3cPropagator
	}
	tracer := tp.Tracer(tracerName)
	serverKind := trace.WithSpanKind(trace.SpanKindServer)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info, r := infoOf(r)
			method := methodLabel(r.Method)
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, method, serverKind)
			// The attributes are made only for a span that records them
			// (with an exporter configured; see observability.IDsOnly).
			if span.IsRecording() {
				span.SetAttributes(
					semconv.HTTPRequestMethodKey.String(method),
					semconv.URLPath(r.URL.Path),
					semconv.URLScheme(scheme(r)),
					semconv.ServerAddress(hostOnly(r.Host)),
					semconv.ClientAddress(r.RemoteAddr),
					semconv.UserAgentOriginal(r.UserAgent()),
				)
			}
			rec := Record(w)
			finished := false
			defer func() {
				// Deferred so that a panic passing through still ends the span.
				if !span.IsRecording() {
					span.End()
					return
				}
				status := rec.Status()
				if status == 0 {
					status = http.StatusOK
				}
				if info.route != "" {
					route := routePath(info.route)
					span.SetName(method + " " + route)
					span.SetAttributes(semconv.HTTPRoute(route))
				}
				span.SetAttributes(semconv.HTTPResponseStatusCode(status))
				switch {
				case !finished: // a response aborted halfway (see Recover)
					span.SetStatus(codes.Error, "response aborted")
				case status >= 500:
					span.SetStatus(codes.Error, http.StatusText(status))
				}
				span.End()
			}()
			next.ServeHTTP(rec, r.WithContext(ctx))
			finished = true
		})
	}
}

// routePath is a pattern without its method ("GET /a/{id}" → "/a/{id}"), the
// path template OpenTelemetry's http.route attribute holds.
func routePath(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return strings.TrimLeft(pattern[i:], " \t")
	}
	return pattern
}

// hostOnly is the Host header without its port.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// methodLabel bounds the method to the known ones, as OpenTelemetry's HTTP
// conventions ask: anything else is "_OTHER".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
