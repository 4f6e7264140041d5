package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStartStopRestart builds the real binary, starts it on an empty data
// directory, waits for /readyz, checks the demo catalog, stops it with
// SIGTERM, and starts it again on the same data.
func TestStartStopRestart(t *testing.T) {
	bin := binary(t)
	data := filepath.Join(t.TempDir(), "data")
	for run := 1; run <= 2; run++ {
		p := start(t, bin, data)
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			t.Fatalf("run %d: readyz: %v", run, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("run %d: readyz = %d %s, want 200", run, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Request-ID"); got == "" {
			t.Errorf("run %d: readyz has no X-Request-ID", run)
		}
		resp, err = http.Get("http://" + p.addr + "/api/v1/nothing-here")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("run %d: unknown route = %d %s, want a 404 problem", run, resp.StatusCode,
				resp.Header.Get("Content-Type"))
		}
		// The demo catalog is loaded on the first start only.
		resp, err = http.Get("http://" + p.addr + "/api/v1/products?limit=100")
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil || len(list.Items) != 50 {
			t.Errorf("run %d: %d demo products (%v), want 50", run, len(list.Items), err)
		}
		p.stop(t)
		if _, err := os.Stat(filepath.Join(data, "nats")); err != nil {
			t.Errorf("run %d: no NATS store under the data directory: %v", run, err)
		}
	}
}

type process struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error
	logs   chan map[string]any
}

// TestSecondSignalExitsAtOnce stops the binary with SIGTERM, sees it drain,
// and ends it with a second signal: it exits at once, with status 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := start(t, binary(t), filepath.Join(t.TempDir(), "data"), "SHUTDOWN_DRAIN=1h")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "draining: /readyz answers 503 until the listeners close")
	resp, err := http.Get("http://" + p.addr + "/readyz")
	if err != nil {
		t.Fatalf("readyz during the drain: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during the drain = %d, want 503", resp.StatusCode)
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "second signal, exiting now")
	for range p.logs { // until stderr closes
	}
	var ee *exec.ExitError
	if err := <-p.exited; !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit after a second signal: %v, want exit status 1", err)
	}
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// binary builds the command once for every test, with the race detector.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "emporium-test-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "emporium")
		out, err := exec.Command("go", "build", "-race", "-o", built, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

// waitLog waits for a log line with message msg.
func (p *process) waitLog(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.logs:
			if !ok {
				t.Fatalf("emporium exited before logging %q: %v", msg, <-p.exited)
			}
			if line["msg"] == msg {
				return
			}
		case <-timeout:
			t.Fatalf("emporium did not log %q within 30s", msg)
		}
	}
}

// start runs the binary with env added to the environment and waits for its
// "emporium is ready" log line.
func start(t *testing.T, bin, data string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "EMPORIUM_DATA_DIR="+data, "EMPORIUM_ADDR=127.0.0.1:0",
		"EMPORIUM_INTERNAL_ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1), logs: make(chan map[string]any, 1000)}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				p.logs <- line
			} else {
				t.Logf("emporium: %s", sc.Text())
			}
		}
		close(p.logs)
		p.exited <- cmd.Wait()
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.logs:
			if !ok {
				t.Fatalf("emporium exited before it was ready: %v", <-p.exited)
			}
			if line["level"] == "ERROR" {
				t.Errorf("error log at start: %v", line)
			}
			if line["msg"] == "emporium is ready" {
				p.addr, _ = line["addr"].(string)
				return p
			}
		case <-deadline:
			t.Fatal("emporium did not become ready within 60s")
		}
	}
}

// stop sends SIGTERM and checks for a clean exit and the "stopped cleanly" log.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	clean := false
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.logs:
			if !ok {
				if err := <-p.exited; err != nil {
					t.Fatalf("exit after SIGTERM: %v", err)
				}
				if !clean {
					t.Error("no \"emporium stopped cleanly\" log line")
				}
				return
			}
			if line["level"] == "ERROR" {
				t.Errorf("error log during shutdown: %v", line)
			}
			if line["msg"] == "emporium stopped cleanly" {
				clean = true
			}
		case <-timeout:
			t.Fatal("emporium did not exit within 30s of SIGTERM")
		}
	}
}
