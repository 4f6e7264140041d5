package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImages builds every service's image from deploy/docker/Dockerfile with
// buildah, as a new user on this kind of machine can: FROM scratch, from
// binaries made by go build (BINARIES=prebuilt; no base image can be
// pulled here), with the vfs storage driver and chroot isolation. No
// container can run here (podman's runtime needs cgroups this machine does
// not have), so each image's root filesystem is mounted and its entrypoint
// run in it with chroot, as the image's user: it must start and answer
// /livez, and the image's /probe must say so too. The image holds nothing
// but its files: no shell.
//
// It runs when EMPORIUM_TEST_BUILDAH is set (.ci/run sets it, after
// installing buildah), as root.
func TestImages(t *testing.T) {
	buildah := os.Getenv("EMPORIUM_TEST_BUILDAH")
	if buildah == "" {
		t.Skip("EMPORIUM_TEST_BUILDAH is not set (the path of buildah; .ci/run sets it)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the image test runs as root (chroot, buildah's vfs storage)")
	}
	natsURL := privateNATS(t)
	list := serviceNames(t)
	build := t.TempDir()
	args := []string{"build", "-trimpath", "-o", filepath.Join(build, "bin") + "/"}
	for _, s := range list {
		args = append(args, "./cmd/"+s)
	}
	cmd := exec.Command("go", append(args, "./deploy/probe")...)
	cmd.Dir, cmd.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	copyFile(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(build, "bin/ca-certificates.crt"))
	for _, f := range []string{"passwd", "group"} {
		copyFile(t, filepath.Join(repo, "deploy/docker", f), filepath.Join(build, "deploy/docker", f))
	}
	storage := t.TempDir()
	b := func(args ...string) (string, error) {
		cmd := exec.Command(buildah, append([]string{"--root", filepath.Join(storage, "root"),
			"--runroot", filepath.Join(storage, "run"), "--storage-driver", "vfs"}, args...)...)
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("buildah %s: %v: %s", args[0], err, ee.Stderr)
		}
		return strings.TrimSpace(string(out)), err
	}
	dockerfile, _ := filepath.Abs(filepath.Join(repo, "deploy/docker/Dockerfile"))
	for _, s := range list {
		t.Run(s, func(t *testing.T) {
			image := "localhost/emporium-" + s + ":test"
			if _, err := b("bud", "--isolation", "chroot", "-q", "-f", dockerfile, "--build-arg", "SERVICE="+s,
				"--build-arg", "BINARIES=prebuilt", "--build-arg", "VERSION=test", "-t", image, build); err != nil {
				t.Fatal(err)
			}
			out, err := b("inspect", "--type", "image", image)
			if err != nil {
				t.Fatal(err)
			}
			checkImageConfig(t, s, out)
			ctr, err := b("from", "--pull-never", image)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b("rm", ctr) })
			rootfs, err := b("mount", ctr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b("umount", ctr) })
			checkRootfs(t, rootfs)
			runEntrypoint(t, s, rootfs, natsURL)
		})
	}
}

// checkImageConfig: the image runs /service as 65532, with the OCI labels and
// no health check.
func checkImageConfig(t *testing.T, service, inspect string) {
	t.Helper()
	var img struct {
		OCIv1 struct {
			Config struct {
				User       string            `json:"User"`
				Entrypoint []string          `json:"Entrypoint"`
				Labels     map[string]string `json:"Labels"`
			} `json:"config"`
		} `json:"OCIv1"`
		Docker struct {
			Config struct {
				Healthcheck any `json:"Healthcheck"`
			} `json:"config"`
		} `json:"Docker"`
	}
	if err := json.Unmarshal([]byte(inspect), &img); err != nil {
		t.Fatal(err)
	}
	c := img.OCIv1.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/service"}) {
		t.Errorf("user %q, entrypoint %v: want 65532:65532 running /service", c.User, c.Entrypoint)
	}
	if c.Labels["org.opencontainers.image.title"] != "emporium-"+service ||
		c.Labels["org.opencontainers.image.version"] != "test" {
		t.Errorf("labels %v: want the OCI title and version", c.Labels)
	}
	if img.Docker.Config.Healthcheck != nil {
		t.Error("the image has a HEALTHCHECK")
	}
}

// checkRootfs: the image holds its binaries, users, groups and CA
// certificates, and nothing else: no shell, no package manager.
func checkRootfs(t *testing.T, rootfs string) {
	t.Helper()
	var files []string
	filepath.WalkDir(rootfs, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(rootfs, path)
			files = append(files, "/"+rel)
		}
		return err
	})
	slices.Sort(files)
	want := []string{"/etc/group", "/etc/passwd", "/etc/ssl/certs/ca-certificates.crt", "/probe", "/service"}
	if !slices.Equal(files, want) {
		t.Errorf("the image's files are %v, want only %v", files, want)
	}
}

// runEntrypoint runs the image's entrypoint in its root filesystem as its
// user, on SQLite in a directory made for it and on the private NATS, and
// waits for /livez; the image's /probe must agree.
func runEntrypoint(t *testing.T, service, rootfs, natsURL string) {
	t.Helper()
	data := filepath.Join(rootfs, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	public, internal := freePort(t), freePort(t)
	cmd := exec.Command("chroot", "--userspec=65532:65532", rootfs, "/service")
	cmd.Env = []string{"DATABASE_URL=sqlite:/data/" + service + ".db", "NATS_URL=" + natsURL,
		"EMPORIUM_SERVICE_TOKEN=dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=",
		"IDENTITY_KEY_ENCRYPTION_KEY=dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=",
		"PUBLIC_ADDR=" + public, "INTERNAL_ADDR=" + internal, "EMPORIUM_DEMO_DATA=false",
		"NOTIFICATIONS_OUTBOX_DIR=/data/outbox", "SHUTDOWN_DRAIN=10ms",
		"IDENTITY_JWKS_URL=http://" + public + "/.well-known/jwks.json"}
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s did not stop cleanly: %v", service, err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%s did not stop within 30s of SIGTERM", service)
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", service, log.String())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the image's entrypoint exited at start: %v", err)
		default:
		}
		if res, err := http.Get("http://" + internal + "/livez"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the image's entrypoint did not answer /livez within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	probe := exec.Command("chroot", "--userspec=65532:65532", rootfs, "/probe", "http://"+internal+"/livez")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Errorf("the image's /probe of /livez: %v: %s", err, out)
	}
}

// privateNATS runs a nats-server with JetStream for the test.
func privateNATS(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("EMPORIUM_TEST_NATS_SERVER")
	if bin == "" {
		bin = "/usr/sbin/nats-server"
	}
	addr := freePort(t)
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "nats://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
