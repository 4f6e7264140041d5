// Command identity runs the identity service on its own, configured by the
// environment: DATABASE_URL, NATS_URL, EMPORIUM_SERVICE_TOKEN,
// IDENTITY_KEY_ENCRYPTION_KEY and the rest of README's configuration table.
//
//	identity                      serve
//	identity create-admin EMAIL   make EMAIL an admin, creating the account with
//	                              the password from EMPORIUM_ADMIN_PASSWORD or,
//	                              when unset, from standard input
package main

import (
	"context"
	"fmt"
	"os"

	"emporium/internal/identity"
	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
)

// Config is everything the identity command reads from the environment.
type Config struct {
	app.Base
	identity.Config
}

// adminConfig is what create-admin needs.
type adminConfig struct {
	DatabaseURL string `env:"DATABASE_URL" required:"true" secret:"url"`
	Password    string `env:"EMPORIUM_ADMIN_PASSWORD" secret:"true"`
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	if len(os.Args) > 1 {
		var cfg adminConfig
		if err := config.Load(&cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(identity.AdminCommand(ctx, os.Args[1:], cfg.DatabaseURL, cfg.Password, os.Stdin, os.Stdout))
	}
	var cfg Config
	os.Exit(app.Main(ctx, &cfg, func() app.Unit { return identity.Unit(cfg.Config) }))
}
