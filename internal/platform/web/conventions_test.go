package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/errs"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

type testAddress struct {
	Name string `json:"name"`
	City string `json:"city"`
}

type testOrder struct {
	ShippingAddress testAddress `json:"shipping_address"`
	Quantity        int         `json:"quantity"`
}

func (o testOrder) Validate() error {
	var v errs.Validation
	v.Check(o.Quantity >= 1 && o.Quantity <= 99, "quantity", "must be 1 to 99")
	v.Check(o.ShippingAddress.City != "", "shipping_address.city", "is required")
	return v.Err()
}

const panicText = "secret-panic-text: db.internal:5432"

// testRoutes is a small service exercising every convention.
func testRoutes() *Router {
	rt := NewRouter()
	rt.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) error {
		var o testOrder
		if err := Decode(w, r, &o); err != nil {
			return err
		}
		return JSON(w, http.StatusCreated, o)
	})
	rt.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		Logger(r.Context()).InfoContext(r.Context(), "handler ran")
		return JSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	rt.HandleFunc("DELETE /things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return NoContent(w)
	})
	rt.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("ETag", `"should-not-survive"`)
		panic(panicText)
	})
	rt.HandleFunc("GET /unauthenticated", func(w http.ResponseWriter, r *http.Request) error {
		return errs.E(errs.Unauthenticated, "", "the access token has expired", nil)
	})
	rt.HandleFunc("GET /unavailable", func(w http.ResponseWriter, r *http.Request) error {
		return &errs.Error{Kind: errs.Unavailable, Message: "catalog is down",
			RetryAfter: 7 * time.Second, Err: errors.New("dial tcp catalog.internal:8081")}
	})
	rt.HandleFunc("GET /rate-limited", func(w http.ResponseWriter, r *http.Request) error {
		return errs.New(errs.RateLimited, "rate_limited", "slow down")
	})
	rt.HandleFunc("GET /stock", func(w http.ResponseWriter, r *http.Request) error {
		lines := []map[string]any{{"product_id": "p1", "requested": 3, "available": 1}}
		return errs.New(errs.Conflict, "insufficient_stock", "not enough stock").
			With(map[string]any{"lines": lines})
	})
	rt.HandleFunc("GET /internal-error", func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("select * from secrets: connection refused")
	})
	return rt
}

// testServer serves testRoutes through the full Stack.
type testServer struct {
	*httptest.Server
	logs *logBuffer
	reg  *prometheus.Registry
}

func newTestServer(t *testing.T, cfg StackConfig) *testServer {
	t.Helper()
	logger, logs := newTestLogger(slog.LevelInfo)
	reg := prometheus.NewRegistry()
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	cfg.Registerer = reg
	cfg.Service = "test"
	srv := httptest.NewServer(Stack(testRoutes(), cfg))
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, logs: logs, reg: reg}
}

type problemBody struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors []errs.FieldError `json:"errors"`
}

func TestHTTPConventions(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, StackConfig{})
	jsonCT := map[string]string{"Content-Type": "application/json"}
	oversized := `{"quantity":1,"shipping_address":{"name":"` +
		strings.Repeat("a", MaxBodyBytes) + `","city":"Oslo"}}`

	tests := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		body        string
		wantStatus  int
		wantCode    string
		wantFields  []string
		wantHeaders map[string]string
		notInBody   []string
	}{
		{name: "malformed json", method: "POST", path: "/orders", header: jsonCT,
			body: `{"quantity":`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "unknown field", method: "POST", path: "/orders", header: jsonCT,
			body:       `{"quantity":1,"colour":"red","shipping_address":{"city":"Oslo"}}`,
			wantStatus: 422, wantCode: "validation_failed", wantFields: []string{"colour"}},
		{name: "unknown nested field", method: "POST", path: "/orders", header: jsonCT,
			body:       `{"quantity":1,"shipping_address":{"city":"Oslo","zip":"0150"}}`,
			wantStatus: 422, wantCode: "validation_failed",
			wantFields: []string{"shipping_address.zip"}},
		{name: "wrong type", method: "POST", path: "/orders", header: jsonCT,
			body:       `{"quantity":1,"shipping_address":{"city":42}}`,
			wantStatus: 422, wantCode: "validation_failed",
			wantFields: []string{"shipping_address.city"}},
		{name: "validate", method: "POST", path: "/orders", header: jsonCT,
			body: `{"quantity":0,"shipping_address":{}}`, wantStatus: 422,
			wantCode:   "validation_failed",
			wantFields: []string{"quantity", "shipping_address.city"}},
		{name: "oversized body", method: "POST", path: "/orders", header: jsonCT,
			body: oversized, wantStatus: 413, wantCode: "body_too_large"},
		{name: "wrong content type", method: "POST", path: "/orders",
			header: map[string]string{"Content-Type": "text/plain"},
			body:   `{"quantity":1}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "panic", method: "GET", path: "/panic", wantStatus: 500, wantCode: "internal",
			notInBody:   []string{"secret-panic-text", "db.internal", "goroutine", ".go:"},
			wantHeaders: map[string]string{"ETag": ""}},
		{name: "internal error", method: "GET", path: "/internal-error", wantStatus: 500,
			wantCode: "internal", notInBody: []string{"secrets", "connection refused"}},
		{name: "unknown route", method: "GET", path: "/nope", wantStatus: 404,
			wantCode: "not_found"},
		{name: "wrong method", method: "PUT", path: "/things/1", wantStatus: 405,
			wantCode:    "method_not_allowed",
			wantHeaders: map[string]string{"Allow": "DELETE, GET, HEAD"}},
		{name: "unauthenticated", method: "GET", path: "/unauthenticated", wantStatus: 401,
			wantCode:    "unauthenticated",
			wantHeaders: map[string]string{"WWW-Authenticate": `Bearer realm="emporium"`}},
		{name: "unavailable", method: "GET", path: "/unavailable", wantStatus: 503,
			wantCode: "unavailable", wantHeaders: map[string]string{"Retry-After": "7"},
			notInBody: []string{"catalog.internal"}},
		{name: "rate limited", method: "GET", path: "/rate-limited", wantStatus: 429,
			wantCode: "rate_limited", wantHeaders: map[string]string{"Retry-After": "5"}},
		{name: "conflict with extra members", method: "GET", path: "/stock", wantStatus: 409,
			wantCode: "insufficient_stock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := do(t, srv.Client(), tt.method, srv.URL+tt.path, tt.header, tt.body)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.wantStatus, body)
			}
			const problemType = "application/problem+json"
			if got := res.Header.Get("Content-Type"); got != problemType {
				t.Errorf("Content-Type = %q, want %q", got, problemType)
			}
			if res.Header.Get(RequestIDHeader) == "" {
				t.Errorf("no %s on the response", RequestIDHeader)
			}
			var raw map[string]any
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatalf("body is not JSON: %s", body)
			}
			for _, member := range []string{"type", "title", "status", "code"} {
				if _, ok := raw[member]; !ok {
					t.Errorf("problem has no %q member: %s", member, body)
				}
			}
			var p problemBody
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Code != tt.wantCode || p.Status != tt.wantStatus {
				t.Errorf("code, status = %q, %d; want %q, %d", p.Code, p.Status,
					tt.wantCode, tt.wantStatus)
			}
			if p.Type != "/problems/"+tt.wantCode {
				t.Errorf("type = %q, want /problems/%s", p.Type, tt.wantCode)
			}
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, tt.wantFields) {
				t.Errorf("errors[].field = %q, want %q", fields, tt.wantFields)
			}
			for k, want := range tt.wantHeaders {
				if got := res.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			for _, s := range tt.notInBody {
				if strings.Contains(string(body), s) {
					t.Errorf("body reveals %q: %s", s, body)
				}
			}
		})
	}
}

func TestProblemExtraMembersAtTopLevel(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, StackConfig{})
	_, body := do(t, srv.Client(), "GET", srv.URL+"/stock", nil, "")
	var got struct {
		Code  string `json:"code"`
		Lines []struct {
			ProductID string `json:"product_id"`
			Requested int    `json:"requested"`
			Available int    `json:"available"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Code != "insufficient_stock" || len(got.Lines) != 1 ||
		got.Lines[0].ProductID != "p1" || got.Lines[0].Requested != 3 ||
		got.Lines[0].Available != 1 {
		t.Errorf("problem = %s, want code insufficient_stock and one line at the top level", body)
	}
}

func TestPanicIsLoggedWithStack(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, StackConfig{})
	res, _ := do(t, srv.Client(), "GET", srv.URL+"/panic", nil, "")
	lines := srv.logs.find(t, "panic serving request")
	if len(lines) != 1 {
		t.Fatalf("%d panic log lines, want 1; logs:\n%s", len(lines), srv.logs)
	}
	l := lines[0]
	if l["level"] != "ERROR" || l["panic"] != panicText ||
		!strings.Contains(l["stack"].(string), "conventions_test.go") {
		t.Errorf("panic log line = %v, want level ERROR, the panic value and the stack", l)
	}
	if l["request_id"] != res.Header.Get(RequestIDHeader) {
		t.Errorf("panic log request_id = %v, want %q", l["request_id"],
			res.Header.Get(RequestIDHeader))
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, StackConfig{})
	long := strings.Repeat("x", 129)
	tests := []struct {
		name string
		sent string
		echo bool
	}{
		{"sane is echoed", "client-id-123_ABC.~", true},
		{"128 chars is echoed", strings.Repeat("y", 128), true},
		{"absent is generated", "", false},
		{"too long is replaced", long, false},
		{"space is replaced", "has space", false},
		{"non-ascii is replaced", "idé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header := map[string]string{}
			if tt.sent != "" {
				header[RequestIDHeader] = tt.sent
			}
			for _, path := range []string{"/things/1", "/nope"} {
				res, _ := do(t, srv.Client(), "GET", srv.URL+path, header, "")
				got := res.Header.Get(RequestIDHeader)
				if tt.echo {
					if got != tt.sent {
						t.Errorf("%s: X-Request-ID = %q, want %q echoed", path, got, tt.sent)
					}
					continue
				}
				id, err := uuid.Parse(got)
				if err != nil || id.Version() != 7 {
					t.Errorf("%s: X-Request-ID = %q, want a generated UUIDv7", path, got)
				}
			}
		})
	}
}

func TestRequestIDInContext(t *testing.T) {
	t.Parallel()
	var got string
	h := AssignRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = RequestID(r.Context())
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(RequestIDHeader, "abc")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != "abc" {
		t.Errorf("RequestID(ctx) = %q, want abc", got)
	}
	if got := RequestID(req.Context()); got != "" {
		t.Errorf("RequestID outside a request = %q, want empty", got)
	}
}

func TestErrorAfterResponseStartedIsOnlyLogged(t *testing.T) {
	t.Parallel()
	logger, logs := newTestLogger(slog.LevelInfo)
	rt := NewRouter()
	rt.HandleFunc("GET /late", func(w http.ResponseWriter, r *http.Request) error {
		if err := JSON(w, http.StatusOK, map[string]string{"partial": "yes"}); err != nil {
			return err
		}
		return errors.New("stream broke")
	})
	srv := httptest.NewServer(Stack(rt, StackConfig{Logger: logger}))
	t.Cleanup(srv.Close)
	res, body := do(t, srv.Client(), "GET", srv.URL+"/late", nil, "")
	if res.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"partial":"yes"}` {
		t.Errorf("response = %d %s, want the 200 the handler started", res.StatusCode, body)
	}
	if len(logs.find(t, "error after response started")) != 1 {
		t.Errorf("the late error was not logged once:\n%s", logs)
	}
}
