// Command emporium runs the whole shop in one process: every service with its
// own SQLite file under EMPORIUM_DATA_DIR, an embedded NATS JetStream server,
// and one front door on EMPORIUM_ADDR.
//
//	emporium                      serve
//	emporium create-admin EMAIL   make EMAIL an admin in the data directory,
//	                              creating the account with the password from
//	                              EMPORIUM_ADMIN_PASSWORD or standard input
//	emporium import-products FILE import a JSON or CSV file of products
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"emporium/internal/cart"
	"emporium/internal/catalog"
	"emporium/internal/identity"
	"emporium/internal/notifications"
	"emporium/internal/orders"
	"emporium/internal/payments"
	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
)

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "emporium:", err)
		os.Exit(2)
	}
	if len(os.Args) > 1 {
		os.Exit(command(ctx, cfg, os.Args[1:]))
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "emporium:", err)
		os.Exit(1)
	}
}

// Config is everything the all-in-one reads from the environment.
type Config struct {
	app.AllInOne
	Identity      identity.Config
	Catalog       catalog.Config
	Cart          cart.Config
	Orders        orders.Config
	Payments      payments.Config
	Notifications notifications.Config
}

// command runs a subcommand against the data directory's databases.
func command(ctx context.Context, cfg Config, args []string) int {
	db := func(service string) string { return "sqlite:" + filepath.Join(cfg.DataDir, service+".db") }
	switch args[0] {
	case "create-admin":
		return identity.AdminCommand(ctx, args, db("identity"), cfg.Identity.AdminPassword, os.Stdin, os.Stdout)
	case "import-products":
		return catalog.ImportCommand(ctx, args, db("catalog"), cfg.Catalog, os.Stdout)
	}
	fmt.Fprintln(os.Stderr, "usage: emporium [create-admin EMAIL | import-products FILE]")
	return 2
}

func run(ctx context.Context, cfg Config) error {
	// No heap profile is ever read from the all-in-one (it serves no pprof),
	// so it keeps no allocation samples: they cost 1–2 MiB of an idle process.
	runtime.MemProfileRate = 0
	log, flush, err := app.Observe(ctx, "emporium", cfg.Observability)
	if err != nil {
		return err
	}
	defer flush(context.WithoutCancel(ctx))
	config.Log(log, &cfg)
	units, err := services(cfg)
	if err != nil {
		return err
	}
	rt, err := app.StartAllInOne(ctx, cfg.AllInOne, units, log)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-rt.Ready():
			trim(log)
		case <-ctx.Done():
		}
	}()
	return rt.Run(ctx)
}

// trim hands back, once the all-in-one is ready, what starting it left behind.
// Starting leaves garbage the collector would keep for minutes in an idle
// process: the first admin's argon2id hash (19 MiB), the migrations, the demo
// catalog. Collecting it and handing the pages back costs a few milliseconds
// once. Starting also touched far more of the binary than an idle process
// uses again; its pages are released only now, after the servers, consumers
// and workers have started, so that their start does not map them back.
func trim(log *slog.Logger) {
	debug.FreeOSMemory()
	if n, err := app.ReleaseExecutablePages(); err != nil {
		log.Warn("start-up: could not release the binary's pages", "err", err)
	} else {
		log.Debug("start-up: released the binary's mapped pages", "bytes", n)
	}
}
