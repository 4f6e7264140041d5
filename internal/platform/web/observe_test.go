package web

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent     = "00-" + incomingTraceID + "-00f067aa0ba902b7-01"
)

// scrape fetches /metrics as served by MetricsHandler over HTTP and returns
// the sample lines of the named metric.
func scrape(t *testing.T, g prometheus.Gatherer, metric string) []string {
	t.Helper()
	srv := httptest.NewServer(MetricsHandler(g))
	t.Cleanup(srv.Close)
	res, body := do(t, srv.Client(), "GET", srv.URL+"/metrics", nil, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), metric) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// sample returns the value of the first line that has every label.
func sample(lines []string, labels ...string) (string, bool) {
	for _, l := range lines {
		if !strings.Contains(l, "{") {
			continue
		}
		matched := true
		for _, label := range labels {
			matched = matched && strings.Contains(l, label)
		}
		if matched {
			return l[strings.LastIndexByte(l, ' ')+1:], true
		}
	}
	return "", false
}

func TestMetricsExposed(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, StackConfig{})
	for _, path := range []string{"/things/1", "/things/2", "/nope", "/panic"} {
		do(t, srv.Client(), "GET", srv.URL+path, nil, "")
	}

	buckets := scrape(t, srv.reg, "http_server_request_duration_seconds_bucket")
	counts := scrape(t, srv.reg, "http_server_request_duration_seconds_count")
	tests := []struct {
		name   string
		labels []string
		want   string
	}{
		{"route pattern, not the raw path", []string{
			`http_request_method="GET"`, `http_route="GET /things/{id}"`,
			`http_response_status_code="200"`, `service="test"`}, "2"},
		{"unmatched", []string{`http_route="unmatched"`, `http_response_status_code="404"`}, "1"},
		{"panic counts as 500", []string{`http_route="GET /panic"`,
			`http_response_status_code="500"`}, "1"},
	}
	for _, tt := range tests {
		if got, ok := sample(counts, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s: count with %v = %q (found %v), want %s", tt.name, tt.labels, got, ok,
				tt.want)
		}
		if _, ok := sample(buckets, append(tt.labels, `le="0.005"`)...); !ok {
			t.Errorf("%s: no bucket line with %v", tt.name, tt.labels)
		}
	}
	for _, l := range append(buckets, counts...) {
		if strings.Contains(l, "/things/1") || strings.Contains(l, "/nope") {
			t.Errorf("a raw path became a label value: %s", l)
		}
	}

	var les []string
	for _, l := range buckets {
		if strings.Contains(l, `http_route="GET /things/{id}"`) {
			i := strings.Index(l, `le="`) + len(`le="`)
			les = append(les, l[i:i+strings.IndexByte(l[i:], '"')])
		}
	}
	want := []string{"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5",
		"0.75", "1", "2.5", "5", "7.5", "10", "+Inf"}
	if !slices.Equal(les, want) {
		t.Errorf("buckets = %v, want %v", les, want)
	}

	active := scrape(t, srv.reg, "http_server_active_requests")
	if got, ok := sample(active, `http_request_method="GET"`); !ok || got != "0" {
		t.Errorf("http_server_active_requests{GET} = %q (found %v), want 0 after the requests",
			got, ok)
	}
}

func TestMetricsActiveRequestsWhileInFlight(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var during []string
	h := Metrics(reg, "")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during = scrape(t, reg, "http_server_active_requests")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	if got, ok := sample(during, `http_request_method="POST"`); !ok || got != "1" {
		t.Errorf("active requests during the request = %q (found %v), want 1", got, ok)
	}
}

func TestMetricsTwiceOnOneRegistryShareCollectors(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	public := Stack(ok, StackConfig{Registerer: reg, Service: "cart", Logger: slog.New(
		slog.DiscardHandler)})
	internal := Stack(ok, StackConfig{Registerer: reg, Service: "cart", Logger: slog.New(
		slog.DiscardHandler)})
	public.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	internal.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	counts := scrape(t, reg, "http_server_request_duration_seconds_count")
	if got, found := sample(counts, `http_route="unmatched"`); !found || got != "2" {
		t.Errorf("count = %q (found %v), want 2 from both handlers", got, found)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, StackConfig{})
	header := map[string]string{"traceparent": traceparent, RequestIDHeader: "req-42"}
	res, body := do(t, srv.Client(), "GET", srv.URL+"/things/7", header, "")
	do(t, srv.Client(), "GET", srv.URL+"/unavailable",
		map[string]string{RequestIDHeader: "req-43"}, "")

	var access, handler, failed map[string]any
	for _, l := range srv.logs.lines(t) {
		switch {
		case l["msg"] == "request" && l["request_id"] == "req-42":
			access = l
		case l["msg"] == "handler ran":
			handler = l
		case l["msg"] == "request failed":
			failed = l
		}
	}
	if access == nil {
		t.Fatalf("no access line for req-42; logs:\n%s", srv.logs)
	}
	want := map[string]any{
		"level": "INFO", "method": "GET", "route": "GET /things/{id}", "path": "/things/7",
		"status": float64(200), "bytes": float64(len(body)), "request_id": "req-42",
		"trace_id": incomingTraceID,
	}
	for k, w := range want {
		if got := access[k]; got != w {
			t.Errorf("access line %s = %v, want %v", k, got, w)
		}
	}
	for _, k := range []string{"duration_ms", "remote_addr", "time"} {
		if _, ok := access[k]; !ok {
			t.Errorf("access line has no %s: %v", k, access)
		}
	}
	if res.Header.Get(RequestIDHeader) != "req-42" {
		t.Errorf("X-Request-ID = %q, want req-42", res.Header.Get(RequestIDHeader))
	}
	if handler == nil || handler["request_id"] != "req-42" ||
		handler["trace_id"] != incomingTraceID {
		t.Errorf("handler's log line = %v, want request_id req-42 and the trace id", handler)
	}
	if failed == nil || failed["level"] != "ERROR" || failed["request_id"] != "req-43" {
		t.Errorf("5xx log line = %v, want an ERROR line with request_id req-43", failed)
	}
}

func TestAccessLogProbesAtDebug(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		logger, logs := newTestLogger(level)
		rt := NewRouter()
		health := &Health{}
		rt.Handle("GET /livez", http.HandlerFunc(health.Livez))
		rt.Handle("GET /readyz", http.HandlerFunc(health.Readyz))
		rt.Handle("GET /metrics", MetricsHandler(prometheus.NewRegistry()))
		h := Stack(rt, StackConfig{Logger: logger})
		for _, path := range []string{"/livez", "/readyz", "/metrics"} {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
		}
		lines := logs.find(t, "request")
		want := 0
		if level == slog.LevelDebug {
			want = 3
		}
		if len(lines) != want {
			t.Errorf("at %v: %d access lines for probes, want %d", level, len(lines), want)
		}
		for _, l := range lines {
			if l["level"] != "DEBUG" {
				t.Errorf("probe access line at %v, want DEBUG", l["level"])
			}
		}
	}
}

func TestTracingSpans(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv := newTestServer(t, StackConfig{TracerProvider: tp})
	header := map[string]string{"traceparent": traceparent}
	do(t, srv.Client(), "GET", srv.URL+"/things/9", header, "")
	do(t, srv.Client(), "GET", srv.URL+"/nope", header, "")
	do(t, srv.Client(), "GET", srv.URL+"/panic", header, "")

	ended := spans.Ended()
	tests := []struct {
		name   string
		status int64
		route  string
		code   codes.Code
	}{
		{"GET /things/{id}", 200, "/things/{id}", codes.Unset},
		{"GET", 404, "", codes.Unset},
		{"GET /panic", 500, "/panic", codes.Error},
	}
	if len(ended) != len(tests) {
		t.Fatalf("%d spans ended, want %d", len(ended), len(tests))
	}
	for i, tt := range tests {
		s := ended[i]
		if s.Name() != tt.name {
			t.Errorf("span %d name = %q, want %q", i, s.Name(), tt.name)
		}
		if s.SpanKind() != trace.SpanKindServer {
			t.Errorf("span %q kind = %v, want server", s.Name(), s.SpanKind())
		}
		if got := s.Parent().TraceID().String(); got != incomingTraceID ||
			s.SpanContext().TraceID().String() != incomingTraceID {
			t.Errorf("span %q is not in the incoming trace: parent %s", s.Name(), got)
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, a := range s.Attributes() {
			attrs[a.Key] = a.Value
		}
		if got := attrs["http.response.status_code"].AsInt64(); got != tt.status {
			t.Errorf("span %q status code = %d, want %d", s.Name(), got, tt.status)
		}
		if got := attrs["http.route"].AsString(); got != tt.route {
			t.Errorf("span %q http.route = %q, want %q", s.Name(), got, tt.route)
		}
		if s.Status().Code != tt.code {
			t.Errorf("span %q status = %v, want %v", s.Name(), s.Status().Code, tt.code)
		}
	}
}
