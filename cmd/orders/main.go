// Command orders runs the orders service on its own, configured by the
// environment: DATABASE_URL, NATS_URL, EMPORIUM_SERVICE_TOKEN, the catalog's,
// cart's and payments' internal URLs, and the rest of README's configuration
// table.
package main

import (
	"context"
	"os"

	"emporium/internal/orders"
	"emporium/internal/platform/app"
)

// Config is everything the orders command reads from the environment.
type Config struct {
	app.Base
	orders.Config
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	os.Exit(app.Main(ctx, &cfg, func() app.Unit { return orders.Unit(cfg.Config) }))
}
