// Command catalog runs the catalog service on its own, configured by the
// environment: DATABASE_URL, NATS_URL, EMPORIUM_SERVICE_TOKEN and the rest of
// README's configuration table.
//
//	catalog                          serve
//	catalog import-products FILE     import a JSON or CSV file of products
package main

import (
	"context"
	"fmt"
	"os"

	"emporium/internal/catalog"
	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
)

// Config is everything the catalog command reads from the environment.
type Config struct {
	app.Base
	catalog.Config
}

// importConfig is what import-products needs.
type importConfig struct {
	DatabaseURL string `env:"DATABASE_URL" required:"true" secret:"url"`
	catalog.Config
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	if len(os.Args) > 1 {
		var cfg importConfig
		if err := config.Load(&cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(catalog.ImportCommand(ctx, os.Args[1:], cfg.DatabaseURL, cfg.Config, os.Stdout))
	}
	var cfg Config
	os.Exit(app.Main(ctx, &cfg, func() app.Unit { return catalog.Unit(cfg.Config) }))
}
