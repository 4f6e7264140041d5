package web

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestRouterRoutes(t *testing.T) {
	t.Parallel()
	rt := testRoutes()
	got := rt.Routes()
	want := []string{"POST /orders", "GET /things/{id}", "DELETE /things/{id}", "GET /panic",
		"GET /unauthenticated", "GET /unavailable", "GET /rate-limited", "GET /stock",
		"GET /internal-error"}
	if !slices.Equal(got, want) {
		t.Errorf("Routes() = %q, want %q", got, want)
	}
	got[0] = "changed"
	if rt.Routes()[0] != "POST /orders" {
		t.Error("Routes() exposes the router's own slice")
	}
}

func TestRouterWithoutStack(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	rt.Handle("GET /dir/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	rt.Handle("GET /missing", http.NotFoundHandler()) // a registered handler's own 404
	tests := []struct {
		method, path string
		wantStatus   int
		wantCT       string
	}{
		{"GET", "/dir/x", http.StatusTeapot, ""},
		{"HEAD", "/dir/x", http.StatusTeapot, ""},
		{"GET", "/dir", http.StatusTemporaryRedirect, ""}, // the mux's redirect passes through
		{"GET", "/missing", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"GET", "/elsewhere", http.StatusNotFound, "application/problem+json"},
		{"POST", "/dir/x", http.StatusMethodNotAllowed, "application/problem+json"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.wantStatus {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.wantStatus)
		}
		if tt.wantCT != "" && rec.Header().Get("Content-Type") != tt.wantCT {
			t.Errorf("%s %s Content-Type = %q, want %q", tt.method, tt.path,
				rec.Header().Get("Content-Type"), tt.wantCT)
		}
	}
}

func TestRouterPanicsOnConflict(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	rt.HandleFunc("GET /a/{id}", func(http.ResponseWriter, *http.Request) error { return nil })
	defer func() {
		if recover() == nil {
			t.Error("registering a conflicting pattern did not panic")
		}
	}()
	rt.HandleFunc("GET /a/{name}", func(http.ResponseWriter, *http.Request) error { return nil })
}

func TestStatusRecorder(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Stack(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		rec, ok := w.(*StatusRecorder)
		if !ok {
			t.Errorf("handler got a %T, want the stack's *StatusRecorder", w)
			return
		}
		if rec.Started() {
			t.Error("Started before anything was written")
		}
		w.WriteHeader(http.StatusEarlyHints) // informational: not the status
		if rec.Started() {
			t.Error("Started after a 1xx")
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController through the recorder: %v", err)
		}
		_, _ = w.Write([]byte("part"))
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		if !rec.Started() || rec.Status() != http.StatusOK || rec.Bytes() != 4 {
			t.Errorf("Started, Status, Bytes = %v, %d, %d; want true, 200, 4",
				rec.Started(), rec.Status(), rec.Bytes())
		}
	}), StackConfig{}))
	t.Cleanup(srv.Close)
	res, body := do(t, srv.Client(), "GET", srv.URL, nil, "")
	if res.StatusCode != http.StatusOK || string(body) != "part" {
		t.Errorf("response = %d %q, want 200 part", res.StatusCode, body)
	}
}
