//go:build e2e

package local

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"emporium/internal/platform/testkit"
)

// span is what the test keeps of an exported span.
type span struct {
	TraceID, Service, Name string
	Kind                   tracepb.Span_SpanKind
}

// receiver is an OTLP/HTTP trace receiver (protobuf, as the services'
// exporters send): what Jaeger does in Compose, in a few lines.
type receiver struct {
	URL   string
	mu    sync.Mutex
	spans []span
}

func startReceiver(t *testing.T) *receiver {
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var export coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &export)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&export)
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *receiver) add(export *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.ResourceSpans {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, span{TraceID: hex.EncodeToString(s.TraceId), Service: service,
					Name: s.Name, Kind: s.Kind})
			}
		}
	}
}

// trace returns the spans of one trace so far.
func (r *receiver) trace(id string) []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, s := range r.spans {
		if s.TraceID == id {
			out = append(out, s)
		}
	}
	return out
}

// startNATS runs a private nats-server with JetStream for one run. The
// streams have fixed names (IDENTITY, CATALOG, ORDERS, …) and the durable
// consumers too: on the machine's shared server, two runs at once (or a
// `make topology` beside the test) would share them, and one run's orders
// service would take the other's payment events. A server of its own makes
// the run independent of every other.
func startNATS(t *testing.T, dir string) string {
	t.Helper()
	bin := lookBin(t, "EMPORIUM_TEST_NATS_SERVER", "nats-server", "/usr/sbin/nats-server")
	addr := freeAddrT(t)
	host, port, _ := net.SplitHostPort(addr)
	return startServer(t, "nats-server", addr, exec.Command(bin, "-a", host, "-p", port, "-js",
		"-sd", filepath.Join(dir, "nats")), "nats://"+addr)
}

// startRedis runs a private redis-server for one run: the catalog's cache
// keys and identity's throttle counts are not named per database, so runs
// on one Redis would read each other's.
func startRedis(t *testing.T, dir string) string {
	t.Helper()
	bin := lookBin(t, "EMPORIUM_TEST_REDIS_SERVER", "redis-server", "/usr/bin/redis-server")
	addr := freeAddrT(t)
	host, port, _ := net.SplitHostPort(addr)
	return startServer(t, "redis-server", addr, exec.Command(bin, "--bind", host, "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir), "redis://"+addr+"/0")
}

func startServer(t *testing.T, name, addr string, cmd *exec.Cmd, url string) string {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	testkit.Eventually(t, 20*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "%s does not listen on %s", name, addr)
	return url
}

// lookBin finds a program: the environment variable's path (CI sets them,
// so that a missing program fails), the PATH, then Debian's place.
func lookBin(t *testing.T, env, name, debian string) string {
	t.Helper()
	if bin := os.Getenv(env); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	t.Fatalf("%s not found (set %s)", name, env)
	return ""
}

func freeAddrT(t *testing.T) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
