package nginx

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Binary finds the nginx program: $EMPORIUM_NGINX, then nginx on the PATH,
// then /usr/sbin/nginx (Debian's, which is not on a normal user's PATH).
func Binary() (string, error) {
	if bin := os.Getenv("EMPORIUM_NGINX"); bin != "" {
		return bin, nil
	}
	if bin, err := exec.LookPath("nginx"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx not found: install it (apt-get install nginx) or set EMPORIUM_NGINX")
}

// Command returns the command that runs Nginx in the foreground on
// dir/nginx.conf (written by WriteConfig), its prefix dir: not a daemon and
// not the system's service, so that the caller owns the process and its pid.
// It runs in a process group of its own, whose id is the master's pid: a
// master killed by SIGKILL leaves its workers behind, so stop it with
// SIGQUIT (graceful) or SIGTERM, or kill the group (Kill).
func Command(bin, dir string) *exec.Cmd {
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr",
		"-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Kill ends the Nginx started by Command as master pid, workers included.
func Kill(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// Test checks dir/nginx.conf with nginx -t and returns its complaint.
func Test(bin, dir string) error {
	out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"),
		"-e", "stderr").CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// WriteConfig renders cfg into dir/nginx.conf, creating dir and cfg's
// TempDir.
func WriteConfig(dir string, cfg Config) error {
	conf, err := Render(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.TempDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "nginx.conf"), conf, 0o644)
}

// Local returns the local topology's variant: fixed loopback addresses, one
// worker, every file under dir.
func Local(dir, listen string) Config {
	return Config{Header: "the local topology (deploy/local)", Listen: listen,
		Servers: map[string][]string{}, Internal: map[string]string{},
		InternalServers: map[string][]string{}, AuthRate: "10r/s", AuthBurst: 20, Workers: "1",
		PidFile: filepath.Join(dir, "nginx.pid"), TempDir: filepath.Join(dir, "temp"),
		ErrorLog: "stderr", AccessLog: filepath.Join(dir, "access.log")}
}
