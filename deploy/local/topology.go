// Package local runs the production topology on one machine, without
// containers: every service of deploy/services.json as its own processes
// (as many replicas as the list says), each on its own PostgreSQL database,
// all on one NATS JetStream server and Redis, behind Nginx. It is what `make
// topology` runs (deploy/local/topology) and what the end-to-end test starts.
//
// Every service gets the environment a container would: DATABASE_URL,
// NATS_URL, REDIS_URL, EMPORIUM_SERVICE_TOKEN, PUBLIC_ADDR, INTERNAL_ADDR,
// IDENTITY_JWKS_URL and <SERVICE>_INTERNAL_URL for every service, over the
// topology's own environment, so that EMPORIUM_ADMIN_EMAIL,
// EMPORIUM_ADMIN_PASSWORD, EMPORIUM_PAYMENT_WINDOW, LOG_LEVEL,
// OTEL_EXPORTER_OTLP_ENDPOINT and the rest are honoured as in the all-in-one.
// The other services reach a service's internal port through an internal
// listener of the same Nginx that balances it over the replicas (a cluster's
// Service does that in Kubernetes); the public listener never routes
// internal paths.
package local

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"emporium/deploy"
	"emporium/deploy/nginx"
	"emporium/internal/platform/backoff"
)

// Config is a topology's configuration.
type Config struct {
	// Dir keeps the topology's state: binaries, logs, Nginx's files, pids,
	// the generated identity key-encryption key, and each replica's working
	// directory (run/<replica>: notifications' outbox of unsent messages).
	Dir string
	// Root is the repository, where the services' commands are built.
	Root string
	// Bin, when set, holds the services' binaries already built
	// (bin/<service>); otherwise they are built into Dir/bin.
	Bin string
	// Addr is the gateway's public address ("127.0.0.1:8088"); empty picks a
	// free loopback port.
	Addr string
	// PostgresURL is a PostgreSQL URL whose user may create databases; each
	// service gets its own, named DatabasePrefix_<service>, created when
	// missing.
	PostgresURL    string
	DatabasePrefix string
	// DropDatabases drops the databases at Stop (the end-to-end test's are
	// its own; the topology's are kept like the all-in-one's data).
	DropDatabases bool
	// NATSURL and RedisURL are the servers every service uses.
	NATSURL, RedisURL string
	// Env is the environment every service starts from (os.Environ()).
	Env []string
	// Services are the services to run, with their replicas; deploy.Services()
	// when nil.
	Services []deploy.Service
	// AuthRate and AuthBurst are Nginx's limit on the rate-limited paths per
	// client address; the production values ("10r/s", 20) when empty.
	AuthRate  string
	AuthBurst int
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Route, when set, chooses where a service reaches each dependency: it
	// is called with the service's name, the dependency ("postgres", "nats",
	// "redis", or another service's name for its internal port) and the
	// address the service would use (host:port), and returns the address to
	// use instead. The fault-injection harness (cmd/emporium-chaos/internal/chaos) puts a proxy
	// of its own there.
	Route func(service, dependency, addr string) (string, error)
}

// Topology is a running topology.
type Topology struct {
	cfg       Config
	gateway   string
	nginx     *exec.Cmd
	nginxDone chan struct{}
	replicas  map[string][]*Process
	order     []*Process // in start order
}

// Start builds the services, creates their databases, starts Nginx and then
// every replica in deploy.Services' order, each once the one before is ready
// (two catalogs must not both load the demo catalog into an empty
// database). On error, what was started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Topology, err error) {
	if cfg.Services == nil {
		cfg.Services = deploy.Services()
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.AuthRate == "" {
		cfg.AuthRate, cfg.AuthBurst = "10r/s", 20
	}
	if cfg.DatabasePrefix == "" {
		cfg.DatabasePrefix = "emporium"
	}
	t := &Topology{cfg: cfg, replicas: map[string][]*Process{}}
	defer func() {
		if err != nil {
			t.Stop(context.WithoutCancel(ctx))
		}
	}()
	for _, d := range []string{cfg.Dir, pidDir(cfg.Dir), filepath.Join(cfg.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	bin := cfg.Bin
	if bin == "" {
		bin = filepath.Join(cfg.Dir, "bin")
		t.progress("building %s", strings.Join(names(cfg.Services), ", "))
		if err := Build(ctx, cfg.Root, bin, names(cfg.Services)); err != nil {
			return nil, err
		}
	}
	env, err := t.sharedEnv()
	if err != nil {
		return nil, err
	}
	conf, err := t.plan(ctx, bin, env)
	if err != nil {
		return nil, err
	}
	if err := t.startNginx(conf); err != nil {
		return nil, err
	}
	for _, p := range t.order {
		t.progress("starting %s (public %s, internal %s)", p.Name, p.PublicAddr, p.InternalAddr)
		if err := p.start(ctx); err != nil {
			return nil, err
		}
	}
	t.progress("gateway ready on %s", t.URL())
	return t, nil
}

// URL is the gateway's base URL.
func (t *Topology) URL() string { return "http://" + t.gateway }

// Replicas returns a service's replicas.
func (t *Topology) Replicas(service string) []*Process { return t.replicas[service] }

// Processes returns every replica, in start order.
func (t *Topology) Processes() []*Process { return t.order }

// Restart starts a replica that is not running again, on its ports, and
// waits until it is ready.
func (t *Topology) Restart(ctx context.Context, p *Process) error {
	if p.Running() {
		return fmt.Errorf("%s is running", p.Name)
	}
	t.progress("restarting %s", p.Name)
	return p.start(ctx)
}

// Stop stops Nginx first (no new requests), then every replica at once
// (SIGTERM: each drains and shuts down in order), and drops the databases
// when the configuration says so. It returns what went wrong, all of it.
func (t *Topology) Stop(ctx context.Context) error {
	var problems []error
	if t.nginx != nil && t.nginx.Process != nil {
		t.nginx.Process.Signal(syscall.SIGQUIT)
		select {
		case <-t.nginxDone:
		case <-time.After(10 * time.Second):
			nginx.Kill(t.nginx.Process.Pid)
			<-t.nginxDone
		}
		os.Remove(filepath.Join(pidDir(t.cfg.Dir), "nginx.pid"))
	}
	errc := make(chan error, len(t.order))
	for _, p := range t.order {
		go func() { errc <- p.Stop(30 * time.Second) }()
	}
	for range t.order {
		if err := <-errc; err != nil {
			problems = append(problems, err)
		}
	}
	if t.cfg.DropDatabases {
		for _, s := range t.cfg.Services {
			if err := dropDatabase(ctx, t.cfg.PostgresURL, t.database(s.Name)); err != nil {
				problems = append(problems, err)
			}
		}
	}
	t.progress("stopped")
	return errors.Join(problems...)
}

// Exited delivers each replica whose process ends, once: the topology does
// not restart replicas (Kubernetes does); it reports them. A replica started
// again by Restart is not watched again.
func (t *Topology) Exited() <-chan *Process {
	out := make(chan *Process, len(t.order))
	for _, p := range t.order {
		go func(exited <-chan struct{}) {
			<-exited
			out <- p
		}(p.Exited())
	}
	return out
}

// sharedEnv is the environment every replica gets beside its own addresses.
func (t *Topology) sharedEnv() ([]string, error) {
	token, err := secret("")
	if err != nil {
		return nil, err
	}
	env := append([]string{}, t.cfg.Env...)
	env = append(env, "NATS_URL="+t.cfg.NATSURL, "REDIS_URL="+t.cfg.RedisURL,
		"EMPORIUM_SERVICE_TOKEN="+token)
	if !hasEnv(env, "SHUTDOWN_DRAIN") {
		// Nginx stops before the services: nothing is left to drain for.
		env = append(env, "SHUTDOWN_DRAIN=100ms")
	}
	if !hasEnv(env, "IDENTITY_KEY_ENCRYPTION_KEY") {
		// Kept beside the databases, which outlive the topology: the keys
		// sealed with it must open at the next start.
		kek, err := secret(filepath.Join(t.cfg.Dir, "identity.kek"))
		if err != nil {
			return nil, err
		}
		env = append(env, "IDENTITY_KEY_ENCRYPTION_KEY="+kek)
	}
	return env, nil
}

// plan picks every address, makes every replica's environment and Nginx's
// configuration, and creates the databases.
func (t *Topology) plan(ctx context.Context, bin string, env []string) (nginx.Config, error) {
	gateway := t.cfg.Addr
	if gateway == "" {
		var err error
		if gateway, err = FreeAddr(); err != nil {
			return nginx.Config{}, err
		}
	}
	t.gateway = gateway
	conf := nginx.Local(filepath.Join(t.cfg.Dir, "nginx"), gateway)
	conf.Services, conf.AuthRate, conf.AuthBurst = t.cfg.Services, t.cfg.AuthRate, t.cfg.AuthBurst
	peers := []string{"IDENTITY_JWKS_URL=http://" + gateway + "/.well-known/jwks.json"}
	for _, s := range t.cfg.Services {
		addr, err := FreeAddr()
		if err != nil {
			return conf, err
		}
		conf.Internal[s.Name] = addr
		peers = append(peers, s.EnvPrefix()+"_INTERNAL_URL=http://"+addr)
	}
	for _, s := range t.cfg.Services {
		dbURL, err := createDatabase(ctx, t.cfg.PostgresURL, t.database(s.Name))
		if err != nil {
			return conf, err
		}
		routed, err := t.routes(s.Name, dbURL, conf.Internal)
		if err != nil {
			return conf, err
		}
		for i := 1; i <= s.Replicas; i++ {
			p := &Process{Name: fmt.Sprintf("%s-%d", s.Name, i), Service: s.Name,
				bin: filepath.Join(bin, s.Name)}
			if p.PublicAddr, err = FreeAddr(); err != nil {
				return conf, err
			}
			if p.InternalAddr, err = FreeAddr(); err != nil {
				return conf, err
			}
			p.log = filepath.Join(t.cfg.Dir, "logs", p.Name+".log")
			p.dir = filepath.Join(t.cfg.Dir, "run", p.Name)
			p.pidFile = filepath.Join(pidDir(t.cfg.Dir), p.Name+".pid")
			p.env = append(append(append([]string{}, env...), peers...), "DATABASE_URL="+dbURL,
				"PUBLIC_ADDR="+p.PublicAddr, "INTERNAL_ADDR="+p.InternalAddr)
			// Later entries win (os/exec keeps the last of a key).
			p.env = append(p.env, routed...)
			t.replicas[s.Name] = append(t.replicas[s.Name], p)
			t.order = append(t.order, p)
			conf.Servers[s.Name] = append(conf.Servers[s.Name], p.PublicAddr)
			conf.InternalServers[s.Name] = append(conf.InternalServers[s.Name], p.InternalAddr)
		}
	}
	return conf, nil
}

// routes is the environment that points a service at its dependencies
// through cfg.Route: its database, NATS, Redis and the other services'
// internal ports. Without Route, none.
func (t *Topology) routes(service, dbURL string, internal map[string]string) ([]string, error) {
	if t.cfg.Route == nil {
		return nil, nil
	}
	urls := []struct{ key, dependency, url string }{
		{"DATABASE_URL", "postgres", dbURL},
		{"NATS_URL", "nats", t.cfg.NATSURL}, {"REDIS_URL", "redis", t.cfg.RedisURL},
	}
	for _, s := range t.cfg.Services {
		if s.Name != service {
			urls = append(urls, struct{ key, dependency, url string }{s.EnvPrefix() + "_INTERNAL_URL",
				s.Name, "http://" + internal[s.Name]})
		}
	}
	var env []string
	for _, u := range urls {
		parsed, err := url.Parse(u.url)
		if err != nil {
			return nil, fmt.Errorf("route %s of %s: %w", u.key, service, err)
		}
		if parsed.Host, err = t.cfg.Route(service, u.dependency, parsed.Host); err != nil {
			return nil, fmt.Errorf("route %s of %s: %w", u.key, service, err)
		}
		env = append(env, u.key+"="+parsed.String())
	}
	return env, nil
}

// startNginx writes the configuration and runs Nginx in the foreground as
// the topology's child, and waits until it listens.
func (t *Topology) startNginx(conf nginx.Config) error {
	bin, err := nginx.Binary()
	if err != nil {
		return err
	}
	dir := filepath.Join(t.cfg.Dir, "nginx")
	if err := nginx.WriteConfig(dir, conf); err != nil {
		return err
	}
	if err := nginx.Test(bin, dir); err != nil {
		return fmt.Errorf("nginx -t: %s", err)
	}
	logFile, err := os.OpenFile(filepath.Join(t.cfg.Dir, "logs", "nginx.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := nginx.Command(bin, dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	t.progress("starting nginx on %s (config %s)", t.gateway, filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		return err
	}
	t.nginx, t.nginxDone = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		close(t.nginxDone)
	}()
	pid := strconv.Itoa(cmd.Process.Pid) + "\n"
	if err := os.WriteFile(filepath.Join(pidDir(t.cfg.Dir), "nginx.pid"), []byte(pid), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case <-t.nginxDone:
			return fmt.Errorf("nginx exited at start; see %s", logFile.Name())
		default:
		}
		if c, err := net.Dial("tcp", t.gateway); err == nil {
			c.Close()
			return nil
		}
		if !backoff.Sleep(ctx, 20*time.Millisecond) {
			return fmt.Errorf("nginx does not listen on %s; see %s", t.gateway, logFile.Name())
		}
	}
}

func (t *Topology) database(service string) string { return t.cfg.DatabasePrefix + "_" + service }

func (t *Topology) progress(format string, args ...any) {
	fmt.Fprintf(t.cfg.Progress, "topology: "+format+"\n", args...)
}

// Build builds the services' commands into dir, static as in the images.
func Build(ctx context.Context, root, dir string, services []string) error {
	args := []string{"build", "-trimpath", "-o", dir + string(filepath.Separator)}
	for _, s := range services {
		args = append(args, "./cmd/"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// secret returns 32 random bytes in base64; with a path, the ones kept
// there, made and kept (mode 0600) on the first call.
func secret(path string) (string, error) {
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	key := make([]byte, 32)
	rand.Read(key)
	s := base64.StdEncoding.EncodeToString(key)
	if path != "" {
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	return s, nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key && v != "" {
			return true
		}
	}
	return false
}

func names(services []deploy.Service) []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Name)
	}
	return out
}
