// Command payments runs the payments service on its own, configured by the
// environment: DATABASE_URL, NATS_URL, EMPORIUM_SERVICE_TOKEN, and
// STRIPE_SECRET_KEY / STRIPE_WEBHOOK_SECRET for Stripe (the sandbox provider
// without them), with the rest of README's configuration table.
package main

import (
	"context"
	"os"

	"emporium/internal/payments"
	"emporium/internal/platform/app"
)

// Config is everything the payments command reads from the environment.
type Config struct {
	app.Base
	payments.Config
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	os.Exit(app.Main(ctx, &cfg, func() app.Unit { return payments.Unit(cfg.Config) }))
}
