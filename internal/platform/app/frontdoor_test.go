package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/testkit"
)

// lockedBuffer collects log lines from every goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// accessLines returns the access lines logged for path.
func (b *lockedBuffer) accessLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []map[string]any
	for _, raw := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		var line map[string]any
		if len(raw) == 0 || json.Unmarshal(raw, &line) != nil {
			continue
		}
		if line["msg"] == "request" && line["path"] == path {
			lines = append(lines, line)
		}
	}
	return lines
}

// The front door hands each request to its service in the process: one
// middleware chain, so one access line, naming the service that answered,
// with the request id the client sees; what the front door answers itself
// is logged once too, by the front door.
func TestAllInOneOneAccessLinePerRequest(t *testing.T) {
	iss := authtest.NewIssuer(t)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	cfg := app.AllInOne{Addr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := app.StartAllInOne(ctx, cfg, []app.Unit{identityJWKS(iss), widgets(make(chan app.Deps, 1))}, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	base := "http://" + rt.Addr()
	testkit.Eventually(t, 10*time.Second, func() bool {
		return status(t, "GET", base+"/readyz", "", nil) == http.StatusOK
	}, "the front door is not ready")

	tests := []struct {
		path    string
		status  int
		service any // the access line's service attribute; nil for the front door's
	}{
		{"/api/v1/widgets/me", http.StatusUnauthorized, "widgets"},
		{"/api/v1/nothing", http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", base+tt.path, nil)
		req.Header.Set("X-Request-ID", "req-"+tt.path)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.status || res.Header.Get("X-Request-ID") != "req-"+tt.path {
			t.Errorf("GET %s = %d with id %q, want %d with the client's id", tt.path, res.StatusCode,
				res.Header.Get("X-Request-ID"), tt.status)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	for _, tt := range tests {
		lines := logs.accessLines(t, tt.path)
		if len(lines) != 1 {
			t.Errorf("%s: %d access lines, want 1: %v", tt.path, len(lines), lines)
			continue
		}
		if got := lines[0]["service"]; got != tt.service || lines[0]["request_id"] != "req-"+tt.path {
			t.Errorf("%s: access line of service %v, request id %v; want %v, %q", tt.path, got,
				lines[0]["request_id"], tt.service, "req-"+tt.path)
		}
	}
}
