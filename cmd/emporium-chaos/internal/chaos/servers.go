package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"emporium/deploy/local"
	"emporium/internal/platform/backoff"
)

// server is a NATS or Redis server the cluster runs for itself, on a port
// of its own, so that a run shares no stream, consumer or key with anything
// else on the machine; it can be restarted on the same port and data.
type server struct {
	name, bin, addr, log string
	args                 []string
	cmd                  *exec.Cmd
	done                 chan struct{}
}

// startNATS runs nats-server with JetStream, its store in dir.
func startNATS(bin, dir string) (*server, error) {
	addr, err := local.FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	s := &server{name: "nats-server", bin: bin, addr: addr, log: filepath.Join(dir, "nats-server.log"),
		args: []string{"-a", host, "-p", port, "-js", "-sd", filepath.Join(dir, "nats")}}
	return s, s.start()
}

// startRedis runs redis-server without persistence.
func startRedis(bin, dir string) (*server, error) {
	addr, err := local.FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	s := &server{name: "redis-server", bin: bin, addr: addr, log: filepath.Join(dir, "redis-server.log"),
		args: []string{"--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", dir}}
	return s, s.start()
}

func (s *server) start() error {
	log, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited at start; see %s", s.name, s.log)
		default:
		}
		if !backoff.Sleep(ctx, 20*time.Millisecond) {
			return fmt.Errorf("%s does not listen on %s; see %s", s.name, s.addr, s.log)
		}
	}
}

// stop ends the server (SIGTERM, SIGKILL after 10s) and waits for it.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// restart stops the server (with SIGKILL when kill, as a crash), waits
// pause, and starts it again on its port and data.
func (s *server) restart(kill bool, pause time.Duration) error {
	if kill {
		s.cmd.Process.Kill()
		<-s.done
	} else {
		s.stop()
	}
	time.Sleep(pause)
	return s.start()
}

// lookBin finds a program: the environment variable's path, the PATH,
// then Debian's place.
func lookBin(env, name, debian string) (string, error) {
	if bin := os.Getenv(env); bin != "" {
		return bin, nil
	}
	if bin, err := exec.LookPath(name); err == nil {
		return bin, nil
	}
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", fmt.Errorf("%s not found (set %s)", name, env)
}
