package observability

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// IDsOnly returns a TracerProvider whose spans record nothing but still
// carry trace context: a span continues its parent's trace (a caller's
// traceparent, say) or starts a new one, with a new span id, so that logs
// name the trace and calls to other services pass it on. It is what a
// process runs with when no exporter is configured: recording spans that
// nothing exports would cost every request for nothing.
func IDsOnly() trace.TracerProvider { return idsProvider{} }

type idsProvider struct{ embedded.TracerProvider }

func (idsProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return idsTracer{} }

type idsTracer struct{ embedded.Tracer }

// Start returns a non-recording span in ctx's trace, or in a new one.
func (idsTracer) Start(ctx context.Context, _ string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	if len(opts) > 0 {
		if cfg := trace.NewSpanStartConfig(opts...); cfg.NewRoot() {
			parent = trace.SpanContext{}
		}
	}
	cfg := trace.SpanContextConfig{TraceID: parent.TraceID(), TraceFlags: parent.TraceFlags(),
		TraceState: parent.TraceState()}
	if !parent.HasTraceID() {
		binary.BigEndian.PutUint64(cfg.TraceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(cfg.TraceID[8:], rand.Uint64())
	}
	binary.BigEndian.PutUint64(cfg.SpanID[:], rand.Uint64()|1) // never the invalid zero id
	span := &idsSpan{sc: trace.NewSpanContext(cfg)}
	return trace.ContextWithSpan(ctx, span), span
}

// idsSpan is a span that records nothing and has a span context.
type idsSpan struct {
	noop.Span
	sc trace.SpanContext
}

func (s *idsSpan) SpanContext() trace.SpanContext { return s.sc }

func (s *idsSpan) TracerProvider() trace.TracerProvider { return idsProvider{} }
