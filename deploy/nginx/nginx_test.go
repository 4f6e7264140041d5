package nginx

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"emporium/deploy"
	"emporium/internal/platform/testkit"
)

var update = flag.Bool("update", false, "rewrite the committed configurations (make generate)")

// TestCommittedVariantsAreCurrent fails while compose.conf or the Kubernetes
// gateway's nginx.conf differ from what deploy/services.json makes; -update
// rewrites them.
func TestCommittedVariantsAreCurrent(t *testing.T) {
	for file, cfg := range map[string]Config{ComposeFile: Compose(), KubernetesFile: Kubernetes()} {
		want, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date with deploy/services.json: run make generate", file)
		}
	}
}

// TestLocationsMirrorServeMux checks the mapping of ServeMux patterns.
func TestLocationsMirrorServeMux(t *testing.T) {
	s := deploy.Service{Name: "x", Paths: []string{"/a/", "/b", "/b/", "/c.yaml"}}
	got := locations(s, map[string]bool{"/a/": true, "/b": true, "/b/": true, "/c.yaml": true})
	want := []location{
		{Match: "= /a", Redirect: "/a/"},
		{Match: "/a/", Upstream: "x"},
		{Match: "= /b", Upstream: "x"},
		{Match: "/b/", Upstream: "x"},
		{Match: "= /c.yaml", Upstream: "x"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("locations = %v, want %v", got, want)
	}
	if _, err := Render(Config{Services: []deploy.Service{{Name: "x", Replicas: 1,
		Paths: []string{"/api/v1/products/{id}"}}}}); err == nil {
		t.Error("a wildcard pattern rendered; Nginx cannot route it as ServeMux does")
	}
}

// TestGateway runs Nginx on the local variant in front of fake services
// and checks what it routes and what it answers itself.
func TestGateway(t *testing.T) {
	bin := binary(t)
	servers := map[string][]string{}
	for _, s := range deploy.Services() {
		servers[s.Name] = []string{fake(t, s.Name+"-1")}
	}
	g := startGateway(t, bin, servers, func(c *Config) { c.AuthRate, c.AuthBurst = "1r/s", 2 })

	t.Run("every path reaches its service", func(t *testing.T) {
		for _, s := range deploy.Services() {
			for _, p := range s.Paths {
				target := p
				if strings.HasSuffix(p, "/") {
					target += "anything/below"
				}
				if slicesContains(s.RateLimited, p) {
					continue // checked below, where the limit is the point
				}
				res, seen := g.get(t, target+"?q=1", nil)
				if res.StatusCode != http.StatusOK || seen.Replica != s.Name+"-1" || seen.URI != target+"?q=1" {
					t.Errorf("GET %s = %d from %q for %q, want 200 from %s-1 for the same URI",
						target, res.StatusCode, seen.Replica, seen.URI, s.Name)
				}
			}
		}
	})

	t.Run("a subtree's bare path redirects like ServeMux", func(t *testing.T) {
		for _, s := range deploy.Services() {
			for _, p := range s.Paths {
				bare := strings.TrimSuffix(p, "/")
				if bare == p || slicesContains(s.Paths, bare) {
					continue
				}
				res, _ := g.get(t, bare+"?x=1", nil)
				if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != p+"?x=1" {
					t.Errorf("GET %s = %d Location %q, want 301 to %s?x=1", bare, res.StatusCode,
						res.Header.Get("Location"), p)
				}
			}
		}
	})

	t.Run("unknown and internal routes are 404 problems", func(t *testing.T) {
		for _, path := range []string{"/", "/nothing", "/internal/reservations", "/internal/",
			"/metrics", "/api/v1/nothing"} {
			res, body := g.do(t, "GET", path, nil, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
		}
	})

	t.Run("request ids are passed on, or made", func(t *testing.T) {
		_, seen := g.get(t, "/api/v1/products", http.Header{"X-Request-Id": {"client-id-42"}})
		if seen.RequestID != "client-id-42" {
			t.Errorf("service saw request id %q, want the client's", seen.RequestID)
		}
		for _, bad := range []string{"", `has"quote`, strings.Repeat("x", 129), "tab\there"} {
			_, seen := g.get(t, "/api/v1/products", http.Header{"X-Request-Id": {bad}})
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(seen.RequestID) {
				t.Errorf("client id %q: service saw %q, want one Nginx made", bad, seen.RequestID)
			}
		}
	})

	t.Run("the client's address is forwarded", func(t *testing.T) {
		_, seen := g.get(t, "/api/v1/products", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
		if seen.ForwardedFor != "203.0.113.9, 127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want the client's hops and the client", seen.ForwardedFor)
		}
	})

	t.Run("a body over 1 MiB is Nginx's 413 problem", func(t *testing.T) {
		body := bytes.Repeat([]byte("a"), 1<<20+1)
		res, got := g.do(t, "POST", "/api/v1/products", body, http.Header{"X-Request-Id": {"big-1"}})
		wantProblem(t, res, got, http.StatusRequestEntityTooLarge, "body_too_large")
		if res.Header.Get("X-Request-Id") != "big-1" {
			t.Errorf("413 X-Request-ID = %q, want the client's", res.Header.Get("X-Request-Id"))
		}
		res, _ = g.do(t, "POST", "/api/v1/products", bytes.Repeat([]byte("a"), 1<<20), nil)
		if res.StatusCode != http.StatusOK {
			t.Errorf("a body of exactly 1 MiB = %d, want it passed on", res.StatusCode)
		}
	})

	t.Run("a flood on a rate-limited path is Nginx's 429 problem", func(t *testing.T) {
		limited := rateLimitedPath(t)
		var res *http.Response
		var body []byte
		for range 20 {
			if res, body = g.do(t, "POST", limited, []byte("{}"), nil); res.StatusCode == http.StatusTooManyRequests {
				break
			}
		}
		wantProblem(t, res, body, http.StatusTooManyRequests, "rate_limited")
		if res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
}

// TestGatewayFailover checks passive health and retries: a replica that
// takes a request and dies gets a GET retried on the other replica, never a
// POST; a service with no replica left is Nginx's 502 problem.
func TestGatewayFailover(t *testing.T) {
	bin := binary(t)
	var crashed atomic.Int64
	servers := map[string][]string{}
	names := deploy.Names()
	for _, name := range names {
		servers[name] = []string{fake(t, name+"-1")}
	}
	// The first service loses its only replica; the second has a dying one.
	down, flaky := names[0], names[1]
	servers[down] = []string{closedAddr(t)}
	servers[flaky] = []string{dying(t, &crashed), fake(t, flaky+"-2")}
	path := func(name string) string {
		for _, s := range deploy.Services() {
			if s.Name == name {
				for _, p := range s.Paths {
					if !slicesContains(s.RateLimited, p) {
						return strings.TrimSuffix(p, "/") + "/x"
					}
				}
			}
		}
		t.Fatalf("no path for %s", name)
		return ""
	}

	g := startGateway(t, bin, servers, nil)
	for range 4 {
		res, seen := g.get(t, path(flaky), nil)
		if res.StatusCode != http.StatusOK || seen.Replica != flaky+"-2" {
			t.Errorf("GET with a dying replica = %d from %q, want 200 from the other", res.StatusCode, seen.Replica)
		}
	}
	if crashed.Load() == 0 {
		t.Error("no GET reached the dying replica; the retry was not tested")
	}
	res, body := g.do(t, "GET", path(down), nil, nil)
	wantProblem(t, res, body, http.StatusBadGateway, "unavailable")
	if res.Header.Get("Retry-After") == "" {
		t.Error("502 without Retry-After")
	}

	g = startGateway(t, bin, servers, nil) // a fresh gateway: no replica marked down
	crashed.Store(0)
	var refused int
	for range 4 {
		if res, _ := g.do(t, "POST", path(flaky), []byte("{}"), nil); res.StatusCode == http.StatusBadGateway {
			refused++
		}
	}
	if crashed.Load() == 0 || int64(refused) != crashed.Load() {
		t.Errorf("%d POSTs reached the dying replica and %d were answered 502; want every one that "+
			"reached it answered 502, not retried", crashed.Load(), refused)
	}
}

type gateway struct {
	base string
}

// seen is what a fake service saw of a request.
type seen struct {
	Replica, Method, URI, RequestID, ForwardedFor string
}

func (g gateway) do(t *testing.T, method, path string, body []byte, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func (g gateway) get(t *testing.T, path string, h http.Header) (*http.Response, seen) {
	t.Helper()
	res, body := g.do(t, "GET", path, nil, h)
	var s seen
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return res, s
}

// wantProblem checks an RFC 9457 answer from Nginx itself: its status and
// code, and the request id in the header and the body.
func wantProblem(t *testing.T, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	var p struct {
		Type, Title, Code, RequestID string
		Status                       int
	}
	p.RequestID = "(none)"
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("%s: %d body is not JSON: %v: %q", res.Request.URL.Path, res.StatusCode, err, body)
		return
	}
	var raw map[string]any
	_ = json.Unmarshal(body, &raw)
	id := res.Header.Get("X-Request-Id")
	switch {
	case res.StatusCode != status || p.Status != status || p.Code != code || p.Type != "/problems/"+code:
		t.Errorf("%s = %d %s, want %d with code %s", res.Request.URL.Path, res.StatusCode, body, status, code)
	case res.Header.Get("Content-Type") != "application/problem+json":
		t.Errorf("%s: Content-Type %q, want application/problem+json", res.Request.URL.Path,
			res.Header.Get("Content-Type"))
	case id == "" || raw["request_id"] != id:
		t.Errorf("%s: X-Request-ID %q, body's request_id %v: want the same id in both",
			res.Request.URL.Path, id, raw["request_id"])
	}
}

// startGateway renders the local variant for servers, starts Nginx on it
// and waits until it listens.
func startGateway(t *testing.T, bin string, servers map[string][]string, tune func(*Config)) gateway {
	t.Helper()
	dir := t.TempDir()
	addr := closedAddr(t)
	cfg := Local(dir, addr)
	cfg.Services = deploy.Services()
	cfg.Servers = servers
	if tune != nil {
		tune(&cfg)
	}
	if err := WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	cmd := Command(bin, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		Kill(cmd.Process.Pid)
		cmd.Wait()
		if t.Failed() {
			t.Logf("nginx: %s", stderr.String())
			if b, err := os.ReadFile(filepath.Join(dir, "access.log")); err == nil {
				t.Logf("access log:\n%s", b)
			}
		}
	})
	if err := testkit.Poll(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		t.Fatalf("nginx did not listen on %s: %s", addr, stderr.String())
	}
	return gateway{base: "http://" + addr}
}

// fake is a service replica that answers every request with what it saw.
func fake(t *testing.T, replica string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen{Replica: replica, Method: r.Method, URI: r.RequestURI,
			RequestID: r.Header.Get("X-Request-Id"), ForwardedFor: r.Header.Get("X-Forwarded-For")})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dying is a replica that reads a request and closes the connection without
// an answer, as a process killed mid-request does; count counts them.
func dying(t *testing.T, count *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if n, _ := c.Read(buf); n > 0 {
					count.Add(1)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// closedAddr is a loopback address nothing listens on (until it is reused).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func rateLimitedPath(t *testing.T) string {
	for _, s := range deploy.Services() {
		for _, p := range s.RateLimited {
			return strings.TrimSuffix(p, "/") + "/login"
		}
	}
	t.Fatal("no service has a rate-limited path")
	return ""
}

// binary finds nginx, or skips when it is not installed and
// EMPORIUM_TEST_NGINX is unset (CI sets it, so that a missing nginx fails).
func binary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("EMPORIUM_TEST_NGINX"); bin != "" {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("EMPORIUM_TEST_NGINX=%s: %v", bin, err)
		}
		return bin
	}
	bin, err := Binary()
	if err != nil {
		t.Skip(err)
	}
	return bin
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
