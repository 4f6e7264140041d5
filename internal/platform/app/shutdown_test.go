package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/testkit"
)

// drainCheck looks at a service or an all-in-one while it drains: its /readyz
// answers 503 while requests still succeed; once the drain is released it
// stops and its listeners are closed.
type drainCheck struct {
	t       *testing.T
	release func()
	done    <-chan error
}

// waitUnready polls url until it answers 503 {"status":"draining"}.
func (d drainCheck) waitUnready(url string) {
	d.t.Helper()
	testkit.Eventually(d.t, 10*time.Second, func() bool {
		var body string
		return call(d.t, "GET", url, "", nil, &body) == http.StatusServiceUnavailable &&
			strings.Contains(body, `"draining"`)
	}, "%s did not answer 503 draining", url)
}

// stillServing fails the test when Serve or Run has already returned.
func (d drainCheck) stillServing() {
	d.t.Helper()
	select {
	case err := <-d.done:
		d.t.Fatalf("stopped during the drain: %v", err)
	default:
	}
}

// finish ends the drain and checks that the process stops cleanly and its
// listeners are closed.
func (d drainCheck) finish(addrs ...string) {
	d.t.Helper()
	d.release()
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Fatal("did not stop after the drain")
	}
	for _, addr := range addrs {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			d.t.Errorf("%s still accepts connections after the drain", addr)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			d.t.Errorf("dial %s after the drain: %v, want connection refused", addr, err)
		}
	}
}

// A stopping service answers 503 on /readyz while it serves on for the drain,
// then closes its listeners. Not parallel: HoldDrains.
func TestServiceDrainsBeforeClosingListeners(t *testing.T) {
	release := app.HoldDrains(t)
	iss := authtest.NewIssuer(t)
	ln := apptest.Listen(t)
	pub, internal := apptest.URLs(ln)
	deps := make(chan app.Deps, 1)
	base := app.Base{DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "widgets.db"),
		NATSURL: apptest.NATS(t), ServiceToken: auth.NewServiceSecret(), JWKSURL: iss.JWKSURL(),
		ShutdownDrain: time.Hour, Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.ServeService(ctx, widgets(deps), base, ln, testLogger(t)) }()
	d := <-deps
	testkit.Eventually(t, 10*time.Second, func() bool {
		return status(t, "GET", pub+"/readyz", "", nil) == http.StatusOK
	}, "the service did not become ready")

	cancel()
	check := drainCheck{t: t, release: release, done: done}
	check.waitUnready(pub + "/readyz")
	check.waitUnready(internal + "/readyz")
	// Requests, events and internal calls go on during the drain.
	if got := status(t, "POST", pub+"/api/v1/widgets", `{"name":"late"}`, nil); got != http.StatusCreated {
		t.Errorf("create widget during the drain = %d, want 201", got)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		var seen map[string]int
		call(t, "GET", internal+"/internal/widgets/seen", "", auth.ServiceHeader(d.ServiceToken), &seen)
		return seen["seen"] == 1
	}, "the consumer did not see the widget created during the drain")
	check.stillServing()
	check.finish(ln.Public.Addr().String(), ln.Internal.Addr().String())
}

// The all-in-one's front door, public and internal, answers 503 on /readyz
// while it serves on for the drain. Not parallel: HoldDrains.
func TestAllInOneDrainsBeforeClosingListeners(t *testing.T) {
	release := app.HoldDrains(t)
	iss := authtest.NewIssuer(t)
	deps := make(chan app.Deps, 1)
	cfg := app.AllInOne{Addr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		ShutdownDrain: time.Hour, Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := app.StartAllInOne(ctx, cfg, []app.Unit{identityJWKS(iss), widgets(deps)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	<-deps
	base := "http://" + rt.Addr()
	testkit.Eventually(t, 10*time.Second, func() bool {
		return status(t, "GET", base+"/readyz", "", nil) == http.StatusOK
	}, "the all-in-one did not become ready")

	cancel()
	check := drainCheck{t: t, release: release, done: done}
	check.waitUnready(base + "/readyz")
	check.waitUnready("http://" + rt.InternalAddr() + "/readyz")
	if got := status(t, "POST", base+"/api/v1/widgets", `{"name":"late"}`, nil); got != http.StatusCreated {
		t.Errorf("create widget during the drain = %d, want 201", got)
	}
	check.stillServing()
	check.finish(rt.Addr(), rt.InternalAddr())
}

// signalHelperEnv makes the test binary, run again by TestSignalContext, play
// a command that shuts down slowly.
const signalHelperEnv = "EMPORIUM_TEST_SIGNAL_HELPER"

// TestSignalContextHelper is not a test: run by TestSignalContext in a
// subprocess, it says "ready", and after the first signal "stopping", then
// takes as long as its parent waits (a drain); told to "exit" on stdin, it
// exits 0.
func TestSignalContextHelper(t *testing.T) {
	if os.Getenv(signalHelperEnv) == "" {
		t.Skip("run by TestSignalContext")
	}
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("stopping")
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

func TestSignalContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		signals []os.Signal
		// wantExit is the exit status; with one signal the helper is told to
		// end its shutdown, with two it must not need to be.
		wantExit int
		wantLog  string
	}{
		{"one SIGTERM stops in order", []os.Signal{syscall.SIGTERM}, 0, ""},
		{"a second signal exits at once", []os.Signal{syscall.SIGTERM, os.Interrupt}, 1,
			"second signal, exiting now"},
		{"two SIGINTs", []os.Signal{os.Interrupt, os.Interrupt}, 1, "second signal, exiting now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalContextHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), signalHelperEnv+"=1")
			var stderr testkit.SyncBuffer
			cmd.Stderr = &stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			lines := bufio.NewScanner(stdout)
			expect := func(want string) {
				t.Helper()
				if !lines.Scan() || lines.Text() != want {
					t.Fatalf("helper said %q (%v), want %q; stderr: %s", lines.Text(), lines.Err(), want,
						stderr.String())
				}
			}
			expect("ready")
			for i, sig := range tt.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					expect("stopping")
				}
			}
			if len(tt.signals) == 1 {
				fmt.Fprintln(stdin, "exit")
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err = <-exited:
			case <-time.After(30 * time.Second):
				t.Fatal("the helper did not exit")
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantExit {
				t.Errorf("exit status %d, want %d; stderr: %s", code, tt.wantExit, stderr.String())
			}
			if tt.wantLog != "" && !strings.Contains(stderr.String(), tt.wantLog) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantLog)
			}
		})
	}
}
