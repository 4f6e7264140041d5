package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"emporium/cmd/emporium-bench/internal/loadtest"
)

// process is a server this tool started: the all-in-one or the bare server.
type process struct {
	cmd      *exec.Cmd
	base     string    // http://host:port
	dir      string    // removed at stop, when set
	log      string    // where its output went
	began    time.Time // just before it was started
	readyIn  time.Duration
	exited   chan struct{}
	exitErr  error
	stopping bool
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// buildAllInOne builds ./cmd/emporium into dir; it runs in the repository.
func buildAllInOne(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "emporium")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/emporium")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/emporium (run in the repository, or pass -bin): %w\n%s", err, out)
	}
	return bin, nil
}

// admin is the all-in-one's first admin, made at its start.
type admin struct{ email, password string }

// startAllInOne starts bin on a fresh data directory and free ports, with
// adm as its first admin, and waits until its /readyz answers 200.
func startAllInOne(ctx context.Context, bin string, adm admin) (*process, error) {
	public, err := freeAddr()
	if err != nil {
		return nil, err
	}
	internal, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "emporium-bench-")
	if err != nil {
		return nil, err
	}
	p := &process{base: "http://" + public, dir: dir, log: filepath.Join(dir, "emporium.log")}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(),
		"EMPORIUM_DATA_DIR="+filepath.Join(dir, "data"), "EMPORIUM_ADDR="+public,
		"EMPORIUM_INTERNAL_ADDR="+internal, "SHUTDOWN_DRAIN=0s",
		"EMPORIUM_ADMIN_EMAIL="+adm.email, "EMPORIUM_ADMIN_PASSWORD="+adm.password,
		// every client registers its customers from this one address
		"IDENTITY_REGISTRATIONS_PER_ADDRESS=1000000")
	if err := p.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.waitReady(ctx, p.base+"/readyz"); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startBare runs this binary again as the bare server on a free port.
func startBare(ctx context.Context) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &process{base: "http://" + addr}
	p.cmd = exec.Command(self, "-serve-bare", addr)
	if err := p.start(); err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, p.base+"/?size=2"); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *process) start() error {
	out := os.Stderr
	if p.log != "" {
		f, err := os.Create(p.log)
		if err != nil {
			return err
		}
		defer f.Close() // the child holds its own descriptor
		out = f
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.began = time.Now()
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.exited = make(chan struct{})
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// waitReady polls url every 5 ms until it answers 200, and records how long
// the process took from its start.
func (p *process) waitReady(ctx context.Context, url string) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %v%s", p.cmd.Path, p.exitErr, p.tail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if res, err := c.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				p.readyIn = time.Since(p.began)
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within a minute%s", p.cmd.Path, p.tail())
}

// stop ends the process with SIGTERM (SIGKILL after 20 s) and removes its
// directory.
func (p *process) stop() error {
	if !p.stopping {
		p.stopping = true
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	var err error
	var exit *exec.ExitError
	if p.exitErr != nil && !(errors.As(p.exitErr, &exit) && exit.ExitCode() == -1) {
		err = fmt.Errorf("%s: %w%s", p.cmd.Path, p.exitErr, p.tail())
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
	return err
}

// tail returns the end of the process's log, for an error message.
func (p *process) tail() string {
	if p.log == "" {
		return ""
	}
	raw, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return "\n" + strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// memory is a process's resident memory, from /proc/<pid>/status.
type memory struct {
	RSS  int64 `json:"rss_bytes"`      // VmRSS: resident now
	Anon int64 `json:"anon_bytes"`     // RssAnon: of which the process's own memory
	File int64 `json:"file_bytes"`     // RssFile: of which the binary's pages, mapped from the page cache
	Peak int64 `json:"peak_rss_bytes"` // VmHWM: the most it was resident
}

// readMemory reads the process's resident memory now and at its peak.
func (p *process) readMemory() (memory, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, val, _ := strings.Cut(s.Text(), ":")
		field := map[string]*int64{"VmRSS": &m.RSS, "RssAnon": &m.Anon, "RssFile": &m.File,
			"VmHWM": &m.Peak}[name]
		if field == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: %q", name, val)
		}
		*field = kb << 10
	}
	return m, s.Err()
}

// cpuTime returns the CPU time the process has used so far (user and
// system), from /proc/<pid>/stat, in the kernel's clock ticks (USER_HZ, 100
// a second on Linux).
func (p *process) cpuTime() (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command's name may hold spaces: count the fields after its ')'.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(fields) < 13 {
		return 0, errors.New("cpu time: a short /proc stat")
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time: %w", err)
		}
		ticks += n
	}
	const userHZ = 100
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// serveBare serves the bare handler on addr until ctx ends.
func serveBare(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: loadtest.BareHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// randomPassword returns a password for the run's admin.
func randomPassword() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
