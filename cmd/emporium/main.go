// Command emporium runs the whole shop in one process: every service with its
// own SQLite file under EMPORIUM_DATA_DIR, an embedded NATS JetStream server,
// and one front door on EMPORIUM_ADDR.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "emporium:", err)
		os.Exit(1)
	}
}

// Config is everything the all-in-one reads from the environment.
type Config struct {
	app.AllInOne
}

func run(ctx context.Context) error {
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, flush, err := app.Observe(ctx, "emporium", cfg.Observability)
	if err != nil {
		return err
	}
	defer flush(context.WithoutCancel(ctx))
	config.Log(log, &cfg)
	rt, err := app.StartAllInOne(ctx, cfg.AllInOne, units(cfg), log)
	if err != nil {
		return err
	}
	return rt.Run(ctx)
}

// units lists the services the all-in-one runs, each configured from cfg.
func units(cfg Config) []app.Unit {
	_ = cfg
	return nil
}
