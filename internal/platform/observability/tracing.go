package observability

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// TracingConfig configures SetupTracing. The caller reads the environment.
type TracingConfig struct {
	// ServiceName and Version describe the process in every span's resource.
	ServiceName, Version string
	// OTLPEndpoint is OTEL_EXPORTER_OTLP_ENDPOINT's value: the base URL of an
	// OTLP/HTTP receiver ("http://otel-collector:4318"); spans go to its
	// /v1/traces. Empty means spans record nothing (IDsOnly): they only
	// carry trace and span ids.
	OTLPEndpoint string
	// Logger receives OpenTelemetry's own errors (a failed export, say).
	// Nil leaves otel's error handler as it is.
	Logger *slog.Logger
}

// tracesPath is where OTLP/HTTP receivers take spans, below the base URL.
const tracesPath = "/v1/traces"

// SetupTracing installs the process-wide OpenTelemetry TracerProvider and
// propagator (W3C trace context and baggage). With an OTLPEndpoint, spans are
// recorded and exported over OTLP/HTTP (protobuf) through a batch span
// processor; without, no span is recorded, but IDsOnly still gives spans
// real trace ids for the logs and for propagation to other services. Call it
// once per process, before serving: it sets otel's globals. shutdown flushes
// pending spans and stops the exporter; call it when the process stops.
func SetupTracing(
	ctx context.Context, cfg TracingConfig,
) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	if cfg.OTLPEndpoint == "" {
		otel.SetTracerProvider(IDsOnly())
		return func(context.Context) error { return nil }, nil
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(
			semconv.ServiceName(cfg.ServiceName),
			semconv.ServiceVersion(cfg.Version),
		))
	if err != nil {
		return nil, fmt.Errorf("observability: setup tracing: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		// Every request is traced: a caller's sampled flag (anyone on the
		// internet can send one) does not decide it.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	}
	endpoint, err := tracesURL(cfg.OTLPEndpoint)
	if err != nil {
		return nil, fmt.Errorf("observability: setup tracing: %w", err)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("observability: setup tracing: %w", err)
	}
	opts = append(opts, sdktrace.WithBatcher(exp))
	tp := sdktrace.NewTracerProvider(opts...)

	if cfg.Logger != nil {
		logger := cfg.Logger
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			logger.Warn("opentelemetry error", slog.String("error", err.Error()))
		}))
	}
	otel.SetTracerProvider(tp)

	return func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("observability: shut down tracing: %w", err)
		}
		return nil
	}, nil
}

// tracesURL turns OTEL_EXPORTER_OTLP_ENDPOINT's base URL into the traces
// URL, as the OpenTelemetry specification says: the base path plus
// /v1/traces. A URL that already ends in /v1/traces is kept.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("parse OTLP endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q: want an http or https URL with a host", endpoint)
	}
	if !strings.HasSuffix(u.Path, tracesPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + tracesPath
	}
	return u.String(), nil
}
