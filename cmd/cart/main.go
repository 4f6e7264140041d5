// Command cart runs the cart service on its own, configured by the
// environment: DATABASE_URL, NATS_URL, EMPORIUM_SERVICE_TOKEN,
// CATALOG_INTERNAL_URL and the rest of README's configuration table.
package main

import (
	"context"
	"os"

	"emporium/internal/cart"
	"emporium/internal/platform/app"
)

// Config is everything the cart command reads from the environment.
type Config struct {
	app.Base
	cart.Config
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	os.Exit(app.Main(ctx, &cfg, func() app.Unit { return cart.Unit(cfg.Config) }))
}
