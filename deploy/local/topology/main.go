// Command topology runs the production topology on one machine, without
// containers (package deploy/local): every service as its own processes on
// PostgreSQL (a database per service, created when missing), NATS JetStream
// and Redis, behind Nginx. It prints the gateway's URL and runs until
// SIGINT or SIGTERM, then stops everything it started.
//
//	topology [up]   start, and run until stopped (make topology)
//	topology down   stop what a topology in TOPOLOGY_DIR started, by pid
//	                (make topology-down)
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"emporium/deploy/local"
	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
)

// Config is the topology's own environment; the services also get the rest
// of it (EMPORIUM_ADMIN_EMAIL, EMPORIUM_PAYMENT_WINDOW, LOG_LEVEL, …).
type Config struct {
	Dir         string `env:"TOPOLOGY_DIR" default:"tmp/topology"`
	Addr        string `env:"GATEWAY_ADDR" default:"127.0.0.1:8088"`
	PostgresURL string `env:"TOPOLOGY_POSTGRES_URL" default:"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" secret:"url"`
	Prefix      string `env:"TOPOLOGY_DATABASE_PREFIX" default:"emporium"`
	NATSURL     string `env:"NATS_URL" default:"nats://127.0.0.1:4222" secret:"url"`
	RedisURL    string `env:"REDIS_URL" default:"redis://127.0.0.1:6379/0" secret:"url"`
	// A development gateway lets a test suite that registers many users at
	// once through; Compose and Kubernetes use the production 10r/s, 20.
	AuthRate  string `env:"GATEWAY_AUTH_RATE" default:"50r/s"`
	AuthBurst int    `env:"GATEWAY_AUTH_BURST" default:"100"`
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg.Dir = dir
	if len(os.Args) > 1 && os.Args[1] == "down" {
		if err := local.Down(cfg.Dir, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "topology:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] != "up" {
		fmt.Fprintln(os.Stderr, "usage: topology [up | down]")
		os.Exit(2)
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "topology:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "pids"), 0o755); err != nil {
		return err
	}
	self := filepath.Join(cfg.Dir, "pids", local.SupervisorPidFile)
	if err := os.WriteFile(self, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(self)
	t, err := local.Start(ctx, local.Config{Dir: cfg.Dir, Root: root, Addr: cfg.Addr,
		PostgresURL: cfg.PostgresURL, DatabasePrefix: cfg.Prefix, NATSURL: cfg.NATSURL,
		RedisURL: cfg.RedisURL, Env: os.Environ(), AuthRate: cfg.AuthRate, AuthBurst: cfg.AuthBurst,
		Progress: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("Emporium is running behind Nginx on %s\n", t.URL())
	fmt.Printf("logs in %s; stop with Ctrl-C or make topology-down\n", filepath.Join(cfg.Dir, "logs"))
	exited := t.Exited()
	for {
		select {
		case <-ctx.Done():
			return t.Stop(context.WithoutCancel(ctx))
		case p := <-exited:
			// Kubernetes restarts a crashed replica; here a person decides.
			fmt.Fprintf(os.Stderr, "topology: %s exited (%v); see %s\n", p.Name, p.Err(), p.Log())
		}
	}
}
