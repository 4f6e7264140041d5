// Command notifications runs the notifications service on its own,
// configured by the environment: DATABASE_URL, NATS_URL,
// EMPORIUM_SERVICE_TOKEN, SMTP_URL, TWILIO_* and the rest of README's
// configuration table. Without SMTP_URL (or TWILIO_ACCOUNT_SID), emails (or
// SMS) are written to NOTIFICATIONS_OUTBOX_DIR.
package main

import (
	"context"
	"os"

	"emporium/internal/notifications"
	"emporium/internal/platform/app"
)

// Config is everything the notifications command reads from the environment.
type Config struct {
	app.Base
	notifications.Config
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	os.Exit(app.Main(ctx, &cfg, func() app.Unit { return notifications.Unit(cfg.Config) }))
}
