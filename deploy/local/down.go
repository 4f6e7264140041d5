package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"emporium/internal/platform/backoff"
)

// SupervisorPidFile is where `topology up` keeps its own pid, in Dir's pids/.
const SupervisorPidFile = "topology.pid"

// Down stops what a topology in dir started, by the pids it kept: the
// topology itself first (SIGTERM: it stops Nginx, then the replicas, in
// order), then whatever it left behind (a topology killed with SIGKILL
// cannot stop its children). A pid whose process is not the one recorded
// (gone, or a reused pid) is skipped.
func Down(dir string, progress io.Writer) error {
	pids := pidDir(dir)
	var problems []error
	if pid, ok := livePid(filepath.Join(pids, SupervisorPidFile), "topology"); ok {
		fmt.Fprintf(progress, "topology: stopping the topology (pid %d)\n", pid)
		if err := stopPid(pid, syscall.SIGTERM, 60*time.Second); err != nil {
			problems = append(problems, err)
		}
	}
	os.Remove(filepath.Join(pids, SupervisorPidFile))
	entries, err := os.ReadDir(pids)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Nginx first: no new requests reach the replicas while they stop.
	first := func(e os.DirEntry) int {
		if e.Name() == "nginx.pid" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(entries, func(a, b os.DirEntry) int { return cmp.Compare(first(a), first(b)) })
	for _, e := range entries {
		path := filepath.Join(pids, e.Name())
		name := strings.TrimSuffix(e.Name(), ".pid")
		service, _, _ := strings.Cut(name, "-") // "catalog-2"
		want := filepath.Join(dir, "bin", service)
		if name == "nginx" {
			want = "nginx"
		}
		if pid, ok := livePid(path, want); ok {
			fmt.Fprintf(progress, "topology: stopping %s (pid %d) left behind\n", name, pid)
			target := pid
			if name == "nginx" {
				target = -pid // its process group: master and workers
			}
			if err := stopPid(target, syscall.SIGTERM, 30*time.Second); err != nil {
				problems = append(problems, err)
			}
		}
		os.Remove(path)
	}
	return errors.Join(problems...)
}

// livePid reads a pid file and reports the pid when its process runs a
// command line containing want.
func livePid(path, want string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), want) {
		return 0, false
	}
	return pid, true
}

// stopPid signals pid (a negative pid is a process group, whose leader is
// waited for) and waits for it to end, killing it after timeout.
func stopPid(pid int, sig syscall.Signal, timeout time.Duration) error {
	if err := syscall.Kill(pid, sig); err != nil {
		return nil // already gone
	}
	leader := max(pid, -pid)
	if waitGone(leader, timeout) {
		return nil
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if !waitGone(leader, 5*time.Second) {
		return fmt.Errorf("pid %d did not end, even after SIGKILL", leader)
	}
	return fmt.Errorf("pid %d did not stop within %s of %v; killed", leader, timeout, sig)
}

// waitGone waits up to timeout for pid to end, and reports whether it did.
// A zombie has ended: its parent, gone too, cannot reap it.
func waitGone(pid int, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		// The state follows the command name in parentheses: "1 (x) Z ...".
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return true
		}
		if !backoff.Sleep(ctx, 50*time.Millisecond) {
			return false
		}
	}
}
