package observability

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a real OTLP/HTTP traces endpoint: it accepts protobuf
// ExportTraceServiceRequests on POST /v1/traces and keeps them.
type otlpReceiver struct {
	*httptest.Server
	requests chan *coltracepb.ExportTraceServiceRequest
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{requests: make(chan *coltracepb.ExportTraceServiceRequest, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.requests <- req
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	})
	rcv.Server = httptest.NewServer(mux)
	t.Cleanup(rcv.Close)
	return rcv
}

// restoreGlobals puts otel's global provider and propagator back after a test
// that calls SetupTracing. Such tests do not run in parallel.
func restoreGlobals(t *testing.T) {
	t.Helper()
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(prop)
	})
}

func TestSetupTracingExportsSpansOverOTLPHTTP(t *testing.T) {
	restoreGlobals(t)
	rcv := newOTLPReceiver(t)
	ctx := context.Background()

	shutdown, err := SetupTracing(ctx, TracingConfig{
		ServiceName: "catalog", Version: "1.2.3", OTLPEndpoint: rcv.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "reserve stock")
	traceID := span.SpanContext().TraceID()
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	var spans []*tracepb.Span
	var service, version string
	for len(rcv.requests) > 0 {
		req := <-rcv.requests
		for _, rs := range req.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				switch a.GetKey() {
				case "service.name":
					service = a.GetValue().GetStringValue()
				case "service.version":
					version = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				spans = append(spans, ss.GetSpans()...)
			}
		}
	}
	if len(spans) != 1 {
		t.Fatalf("received %d spans after shutdown, want 1", len(spans))
	}
	if got, want := spans[0].GetName(), "reserve stock"; got != want {
		t.Errorf("span name = %q, want %q", got, want)
	}
	if got := [16]byte(spans[0].GetTraceId()); got != traceID {
		t.Errorf("trace id = %x, want %s", got, traceID)
	}
	if service != "catalog" || version != "1.2.3" {
		t.Errorf("resource service.name, service.version = %q, %q; want catalog, 1.2.3",
			service, version)
	}
}

func TestSetupTracingWithoutEndpointStillPropagates(t *testing.T) {
	restoreGlobals(t)
	ctx := context.Background()
	shutdown, err := SetupTracing(ctx, TracingConfig{ServiceName: "cart"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(ctx) })

	ctx, span := otel.Tracer("test").Start(ctx, "op")
	defer span.End()
	if !span.SpanContext().HasTraceID() || !span.SpanContext().HasSpanID() {
		t.Fatal("span has no trace or span id without an exporter")
	}
	if span.IsRecording() {
		t.Error("span records without an exporter")
	}
	h := http.Header{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	want := "00-" + span.SpanContext().TraceID().String() + "-" +
		span.SpanContext().SpanID().String() + "-00"
	if got := h.Get("traceparent"); got != want {
		t.Errorf("traceparent = %q, want %q", got, want)
	}

	// A child, here or in the service the header reaches, stays in the trace.
	remote := otel.GetTextMapPropagator().Extract(context.Background(), propagation.HeaderCarrier(h))
	_, child := otel.Tracer("test").Start(remote, "child")
	if child.SpanContext().TraceID() != span.SpanContext().TraceID() ||
		child.SpanContext().SpanID() == span.SpanContext().SpanID() {
		t.Errorf("child %v of %v: want the same trace, a new span", child.SpanContext(), span.SpanContext())
	}
	_, root := otel.Tracer("test").Start(remote, "root", trace.WithNewRoot())
	if root.SpanContext().TraceID() == span.SpanContext().TraceID() {
		t.Error("a new root span stayed in its parent's trace")
	}
}

// BenchmarkSpanStart is a server span's start and end without an exporter
// (IDsOnly) and with a recording SDK provider.
func BenchmarkSpanStart(b *testing.B) {
	sdk := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	for _, c := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"ids_only", IDsOnly()}, {"sdk_recording", sdk}} {
		b.Run(c.name, func(b *testing.B) {
			tracer := c.tp.Tracer("bench")
			kind := trace.WithSpanKind(trace.SpanKindServer)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, span := tracer.Start(ctx, "GET", kind)
				span.End()
			}
		})
	}
}

func TestSetupTracingRejectsBadEndpoint(t *testing.T) {
	restoreGlobals(t)
	for _, endpoint := range []string{"collector:4318", "ftp://collector", "http://"} {
		if _, err := SetupTracing(context.Background(), TracingConfig{
			ServiceName: "x", OTLPEndpoint: endpoint,
		}); err == nil {
			t.Errorf("SetupTracing with endpoint %q: no error", endpoint)
		}
	}
}

func TestTracesURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://collector:4318", "http://collector:4318/v1/traces"},
		{"http://collector:4318/", "http://collector:4318/v1/traces"},
		{"https://otel.example/prefix", "https://otel.example/prefix/v1/traces"},
		{"http://collector:4318/v1/traces", "http://collector:4318/v1/traces"},
	}
	for _, tt := range tests {
		got, err := tracesURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
