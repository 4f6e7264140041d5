package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestPanicAfterResponseStarted: a handler that panics halfway through its
// body must not look like a complete 200: the client sees the response cut
// off (an error reading the body), the access line says it was aborted and
// the span is an error.
func TestPanicAfterResponseStarted(t *testing.T) {
	logger, logs := newTestLogger(slog.LevelInfo)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := Stack(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"items":[`)
		http.NewResponseController(w).Flush()
		panic("the rest of the list went missing")
	}), StackConfig{Logger: logger, TracerProvider: tp})
	srv := httptest.NewServer(h)
	defer srv.Close()

	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Errorf("read a complete %d with body %q; want the response aborted", res.StatusCode, body)
	}
	lines := logs.find(t, "request")
	if len(lines) != 1 || lines[0]["aborted"] != true {
		t.Errorf("access lines %v; want one with aborted: true", lines)
	}
	if ended := spans.Ended(); len(ended) != 1 || ended[0].Status().Code != codes.Error {
		t.Errorf("spans %v; want one with an error status", ended)
	}
}
