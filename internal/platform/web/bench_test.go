package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"emporium/internal/platform/observability"
)

// BenchmarkStack compares one request to a small JSON handler served bare
// with the same request through a Router and the full middleware stack
// (request id, tracing, access log, recovery, metrics, body limit). The access
// log is formatted as JSON and discarded; "stack_sdk_tracer" records real
// spans (no exporter) instead of otel's default no-op provider;
// "stack_ids_only" is what a process without an exporter runs: spans that
// record nothing but carry trace ids.
func BenchmarkStack(b *testing.B) {
	handler := HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return JSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	router := NewRouter()
	router.HandleFunc("GET /things/{id}", handler)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare", handler},
		{"router", router},
		{"stack", Stack(router, StackConfig{Logger: logger,
			Registerer: prometheus.NewRegistry(), Service: "bench"})},
		{"stack_sdk_tracer", Stack(router, StackConfig{Logger: logger,
			Registerer: prometheus.NewRegistry(), Service: "bench", TracerProvider: tp})},
		{"stack_ids_only", Stack(router, StackConfig{Logger: logger,
			Registerer: prometheus.NewRegistry(), Service: "bench",
			TracerProvider: observability.IDsOnly()})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/things/42", nil)
				req.Header.Set("traceparent", traceparent)
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkDecodeBytes measures the strict decoder on a small order-like
// body, and the share of it that the name check (case and repeats) takes.
func BenchmarkDecodeBytes(b *testing.B) {
	body := []byte(`{"note":"leave at the door","lines":[{"product_id":"p1","quantity":2},` +
		`{"product_id":"p2","quantity":1}],"address":{"name":"Ada","city":"London"},` +
		`"attributes":{"gift":{"product_id":"p3","quantity":1}}}`)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var dst decodeTarget
			if err := DecodeBytes(body, &dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("names_only", func(b *testing.B) {
		b.ReportAllocs()
		t := reflect.TypeFor[*decodeTarget]()
		for b.Loop() {
			if err := checkNames(body, t); err != nil {
				b.Fatal(err)
			}
		}
	})
}
