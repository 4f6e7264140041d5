// Package outbox implements the transactional outbox: a service writes its
// events into the outbox table in the same transaction as the state change
// they announce (Add), and a Relay publishes them to the bus afterwards, in
// order, with the event id as the message id so that JetStream drops repeats.
//
// Delivery is at least once: a relay that dies between publishing and marking
// a row publishes it again on restart. The stream's duplicate window absorbs
// that repeat; consumers use the inbox package for anything later.
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"emporium/internal/event"
	"emporium/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema creates the outbox table. Migrate it beside the service's own schema.
var Schema = sqldb.Schema{Name: "outbox", FS: mustSub(migrations, "migrations")}

// Add writes env to the outbox in tx, to be published on the subject env.Type
// once tx commits, with the W3C trace context of ctx. An event id already in
// the outbox is a conflict (sqldb.ErrUnique).
func Add(ctx context.Context, tx *sqldb.Tx, env event.Envelope) error {
	if env.ID == "" {
		return fmt.Errorf("outbox add %s: empty event id", env.Type)
	}
	if err := event.ValidType(env.Type); err != nil {
		return fmt.Errorf("outbox add: %w", err)
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("outbox add %s: %w", env.Type, err)
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	headers, err := json.Marshal(carrier)
	if err != nil {
		return fmt.Errorf("outbox add %s: %w", env.Type, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (event_id, subject, payload, headers, created_at)
		VALUES ($1, $2, $3, $4, $5)`,
		env.ID, env.Type, string(payload), string(headers), time.Now().UTC())
	if err != nil {
		return fmt.Errorf("outbox add %s %s: %w", env.Type, env.ID, sqldb.Translate(err))
	}
	return nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("outbox: " + err.Error())
	}
	return sub
}
