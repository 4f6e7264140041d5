package httpclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// proxyHits counts the requests that reached the proxy the environment names
// for this whole test binary. Set before any request is made, since net/http
// reads the proxy variables once per process; every other test calls a
// loopback address, which is never proxied, so they are unaffected.
var proxyHits atomic.Int64

func TestMain(m *testing.M) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxyHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		os.Setenv(name, proxy.URL)
	}
	os.Setenv("NO_PROXY", "")
	os.Setenv("no_proxy", "")
	code := m.Run()
	proxy.Close()
	os.Exit(code)
}

// TestNoProxyFromEnvironment: calls between services go straight to the
// downstream, never through the proxy HTTP_PROXY names.
func TestNoProxyFromEnvironment(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is not a loopback address, which net/http would
	// never proxy anyway; nothing answers there, so the call fails.
	c := New(Config{Name: "catalog", BaseURL: "http://192.0.2.1", Timeout: 200 * time.Millisecond,
		MaxAttempts: 1})
	err := c.GetJSON(testContext(t, 5*time.Second), "/internal/products", nil)
	if n := proxyHits.Load(); n != 0 || err == nil {
		t.Errorf("the proxy saw %d requests and the call returned %v; want no request "+
			"through the proxy and the call failing", n, err)
	}
}
