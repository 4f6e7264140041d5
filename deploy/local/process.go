package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"emporium/internal/platform/backoff"
)

// Process is one replica of a service: its own command, environment, ports
// and log file. Its pid is kept in the topology's pids/ directory while it
// runs, so that `topology down` finds it even when the topology that started
// it is gone.
type Process struct {
	Name         string // "catalog-2"
	Service      string // "catalog"
	PublicAddr   string
	InternalAddr string

	bin, log, pidFile string
	dir               string // the working directory: relative paths land here
	env               []string
	cmd               *exec.Cmd
	exited            chan struct{} // closed when cmd has been waited for
	err               error         // cmd.Wait's, after exited
}

// start runs the replica and waits until its /readyz answers 200.
func (p *Process) start(ctx context.Context) error {
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(p.bin)
	cmd.Env, cmd.Dir = p.env, p.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A group of its own: Ctrl-C on the topology reaches the topology only,
	// which stops the replicas in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	p.cmd, p.exited, p.err = cmd, make(chan struct{}), nil
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return err
	}
	go func() {
		p.err = cmd.Wait()
		os.Remove(p.pidFile)
		close(p.exited)
	}()
	return p.waitReady(ctx, 90*time.Second)
}

// waitReady polls the internal /readyz until it answers 200.
func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Name, p.err, p.log)
		default:
		}
		if res, err := client.Get("http://" + p.InternalAddr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !backoff.Sleep(ctx, 50*time.Millisecond) {
			return fmt.Errorf("%s not ready within %s; see %s", p.Name, timeout, p.log)
		}
	}
}

// Running reports whether the replica's process runs.
func (p *Process) Running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited is closed when the replica's process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended, once Exited is closed.
func (p *Process) Err() error { return p.err }

// Kill ends the replica with SIGKILL, as a crash would, and waits for it.
func (p *Process) Kill() error {
	if !p.Running() {
		return errors.New(p.Name + " is not running")
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.exited
	return nil
}

// Stop asks the replica to stop (SIGTERM: it drains and shuts down in
// order) and waits, killing it after timeout.
func (p *Process) Stop(timeout time.Duration) error {
	if !p.Running() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			return fmt.Errorf("%s stopped with %v; see %s", p.Name, p.err, p.log)
		}
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.Name, timeout)
	}
}

// Log is the path of the replica's log file (JSON lines).
func (p *Process) Log() string { return p.log }

// pidDir is where the pids of what a topology started are kept.
func pidDir(dir string) string { return filepath.Join(dir, "pids") }
