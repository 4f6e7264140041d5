package cart

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth/authtest"
)

// The cart's tests run the real catalog service, as its own process built
// from cmd/catalog: a service package cannot import another (see archtest),
// and a stand-in would only test the stand-in.

var (
	catalogBuild    sync.Once
	catalogBinary   string
	catalogBuildErr error
)

// catalogCommand builds cmd/catalog once for all the tests.
func catalogCommand(t testing.TB) string {
	t.Helper()
	catalogBuild.Do(func() {
		dir, err := os.MkdirTemp("", "cart-test-catalog-")
		if err != nil {
			catalogBuildErr = err
			return
		}
		catalogBinary = filepath.Join(dir, "catalog")
		out, err := exec.Command("go", "build", "-o", catalogBinary, "emporium/cmd/catalog").CombinedOutput()
		if err != nil {
			catalogBuildErr = fmt.Errorf("go build cmd/catalog: %v\n%s", err, out)
		}
	})
	if catalogBuildErr != nil {
		t.Fatal(catalogBuildErr)
	}
	return catalogBinary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if catalogBinary != "" {
		os.RemoveAll(filepath.Dir(catalogBinary))
	}
	os.Exit(code)
}

// catalogService is the catalog running as its own process on fixed
// loopback addresses, so that it can be stopped and started again where the
// cart expects it.
type catalogService struct {
	t        testing.TB
	env      []string
	url      string // public base URL
	internal string // internal base URL

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// startCatalog runs the catalog on its own SQLite file, the NATS server at
// natsURL, trusting tokens from iss and taking token as the service
// credential. It is killed at cleanup.
func startCatalog(t testing.TB, natsURL string, iss *authtest.Issuer, token string) *catalogService {
	t.Helper()
	pub, internal := freeAddr(t), freeAddr(t)
	c := &catalogService{t: t, url: "http://" + pub, internal: "http://" + internal}
	c.env = append(os.Environ(),
		"DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "catalog.db"),
		"NATS_URL="+natsURL,
		"EMPORIUM_SERVICE_TOKEN="+token,
		"IDENTITY_JWKS_URL="+iss.JWKSURL(),
		"PUBLIC_ADDR="+pub, "INTERNAL_ADDR="+internal,
		"EMPORIUM_DEMO_DATA=false", "SHUTDOWN_DRAIN=0s", "LOG_LEVEL=warn")
	c.Start()
	t.Cleanup(c.Stop)
	return c
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start starts the catalog process and waits until it is ready.
func (c *catalogService) Start() {
	c.t.Helper()
	cmd := exec.Command(catalogCommand(c.t))
	cmd.Env = c.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.t.Logf("catalog: %s", sc.Text())
		}
		cmd.Wait()
		close(exited)
	}()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
	apptest.Eventually(c.t, 30*time.Second, "the catalog is ready", func() bool {
		select {
		case <-exited:
			c.t.Fatal("the catalog exited before it was ready")
		default:
		}
		res, err := http.Get(c.url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// Stop kills the catalog process and waits for it to exit; safe to call
// twice.
func (c *catalogService) Stop() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// hang listens where the stopped catalog's internal listener was, and takes
// connections without ever answering, until the returned func is called.
func (c *catalogService) hang() func() {
	c.t.Helper()
	ln, err := net.Listen("tcp", strings.TrimPrefix(c.internal, "http://"))
	if err != nil {
		c.t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	return func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	}
}
