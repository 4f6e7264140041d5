package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"emporium/deploy"
	"emporium/deploy/local"
)

// ClusterConfig is what a cluster needs.
type ClusterConfig struct {
	// Dir keeps the run's state: binaries, logs, the servers' data.
	Dir string
	// Root is the repository, where the services are built; Bin, when set,
	// holds them built already (bin/<service>).
	Root, Bin string
	// PostgresURL is a PostgreSQL URL whose user may create databases; the
	// run's are named chaos_<run>_<service> and dropped at Stop unless Keep.
	PostgresURL string
	Keep        bool
	// PaymentFaults is the sandbox's PAYMENTS_SANDBOX_FAULTS.
	PaymentFaults string
	// PaymentWindow is EMPORIUM_PAYMENT_WINDOW; 20s when zero.
	PaymentWindow time.Duration
	// Progress receives the topology's lines; nil discards them.
	Progress io.Writer
}

// Cluster is the production topology (deploy/local) on a private NATS
// server and Redis, with a fault proxy between every service and each of
// its dependencies: PostgreSQL, NATS, Redis and the other services'
// internal ports.
type Cluster struct {
	Topology *local.Topology
	NATS     *server
	Redis    *server
	// Admin's credentials (EMPORIUM_ADMIN_EMAIL, EMPORIUM_ADMIN_PASSWORD).
	AdminEmail, AdminPassword string
	// Databases are each service's database URL, straight to PostgreSQL:
	// the checker reads them.
	Databases map[string]string

	adminURL string
	keep     bool

	mu      sync.Mutex
	proxies map[string]*Proxy // by name, "orders→postgres"
}

// StartCluster builds and starts everything.
func StartCluster(ctx context.Context, cfg ClusterConfig) (_ *Cluster, err error) {
	run := randomHex(4)
	c := &Cluster{AdminEmail: "admin-" + run + "@example.com", AdminPassword: "chaos admin " + run,
		Databases: map[string]string{}, proxies: map[string]*Proxy{}, adminURL: cfg.PostgresURL,
		keep: cfg.Keep}
	defer func() {
		if err != nil {
			c.keep = false // a run that did not start has nothing worth keeping
			c.Stop(context.WithoutCancel(ctx))
		}
	}()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	natsBin, err := lookBin("EMPORIUM_TEST_NATS_SERVER", "nats-server", "/usr/sbin/nats-server")
	if err != nil {
		return nil, err
	}
	redisBin, err := lookBin("EMPORIUM_TEST_REDIS_SERVER", "redis-server", "/usr/bin/redis-server")
	if err != nil {
		return nil, err
	}
	if c.NATS, err = startNATS(natsBin, cfg.Dir); err != nil {
		return nil, err
	}
	if c.Redis, err = startRedis(redisBin, cfg.Dir); err != nil {
		return nil, err
	}
	prefix := "chaos_" + run
	for _, s := range deploy.Services() {
		u, err := url.Parse(cfg.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("postgres url: %w", err)
		}
		u.Path = "/" + prefix + "_" + s.Name
		c.Databases[s.Name] = u.String()
	}
	if cfg.PaymentWindow == 0 {
		cfg.PaymentWindow = 20 * time.Second
	}
	env := append(os.Environ(), "EMPORIUM_ADMIN_EMAIL="+c.AdminEmail,
		"EMPORIUM_ADMIN_PASSWORD="+c.AdminPassword, "LOG_LEVEL=info",
		// An order not paid within the window is cancelled: the run's
		// abandoned orders end within the checker's settle time.
		"EMPORIUM_PAYMENT_WINDOW="+cfg.PaymentWindow.String(),
		// A payment left without an answer is asked about soon.
		"PAYMENTS_RECONCILE_INTERVAL=1s", "PAYMENTS_RECONCILE_AFTER=3s",
		"PAYMENTS_SANDBOX_FAULTS="+cfg.PaymentFaults,
		// Customers order more than 20 times an hour here.
		"NOTIFICATIONS_QUOTA=100000", "NOTIFICATIONS_RETRY_MAX=2s",
		"DATABASE_STATEMENT_TIMEOUT=10s")
	c.Topology, err = local.Start(ctx, local.Config{
		Dir: cfg.Dir, Root: cfg.Root, Bin: cfg.Bin, PostgresURL: cfg.PostgresURL, DatabasePrefix: prefix,
		NATSURL: "nats://" + c.NATS.addr, RedisURL: "redis://" + c.Redis.addr + "/0",
		Env: env, AuthRate: "1000r/s", AuthBurst: 1000, Progress: cfg.Progress, Route: c.route,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// route puts a proxy between a service and a dependency (local.Config.Route).
func (c *Cluster) route(service, dependency, addr string) (string, error) {
	p, err := NewProxy(service+"→"+dependency, addr)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.proxies[p.Name]; old != nil {
		old.Close()
	}
	c.proxies[p.Name] = p
	return p.Addr(), nil
}

// URL is the gateway's base URL.
func (c *Cluster) URL() string { return c.Topology.URL() }

// Proxies returns every proxy, by name.
func (c *Cluster) Proxies() []*Proxy {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Proxy
	for _, p := range c.proxies {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Heal removes every proxy's latency and refusal.
func (c *Cluster) Heal() {
	for _, p := range c.Proxies() {
		p.Heal()
	}
}

// Stop stops the topology, the proxies and the servers, and returns what
// went wrong.
func (c *Cluster) Stop(ctx context.Context) error {
	var problems []error
	if c.Topology != nil {
		c.Heal()
		if err := c.Topology.Stop(ctx); err != nil {
			problems = append(problems, err)
		}
	}
	for _, p := range c.Proxies() {
		p.Close()
	}
	for _, s := range []*server{c.NATS, c.Redis} {
		if s != nil {
			s.stop()
		}
	}
	if !c.keep {
		if err := c.DropDatabases(ctx); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// DropDatabases drops the run's databases, ending their sessions.
func (c *Cluster) DropDatabases(ctx context.Context) error {
	if len(c.Databases) == 0 {
		return nil
	}
	conn, err := pgx.Connect(ctx, c.adminURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var problems []error
	for _, db := range c.Databases {
		u, err := url.Parse(db)
		if err != nil {
			return err
		}
		name := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			problems = append(problems, fmt.Errorf("drop database %s: %w", name, err))
		}
	}
	return errors.Join(problems...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
