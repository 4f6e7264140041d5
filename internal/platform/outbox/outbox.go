// Package outbox implements the transactional outbox: a service writes its
// events into the outbox table in the same transaction as the state change
// they announce (Add), and a Relay publishes them to the bus afterwards, in
// order, with the event id as the message id so that JetStream drops repeats.
//
// Delivery is at least once: a relay that dies between publishing and marking
// a row publishes it again on restart. The stream's duplicate window absorbs
// that repeat; consumers use the inbox package for anything later.
//
// # Parked events
//
// An event the bus can never take — its subject is one that no stream takes,
// or it is larger than the server's max_payload or the stream's max_msg_size
// (see bus.Bus.Publish) — would stop the relay for good if it were retried
// like an outage. The relay parks it instead: it sets the row's parked_at and
// parked_reason, counts it in emporium_outbox_parked_total and the
// emporium_outbox_parked gauge, logs an error naming the event id, subject
// and reason, and goes on with the events after it. Cleanup keeps parked
// rows. To see them:
//
//	SELECT seq, event_id, subject, parked_at, parked_reason
//	FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq;
//
// Once the cause is fixed (the stream takes the subject, the server's limit
// is raised), requeue an event; the relay publishes it in its next round:
//
//	UPDATE outbox SET parked_at = NULL, parked_reason = NULL WHERE event_id = '…';
//
// or give it up for good with DELETE FROM outbox WHERE event_id = '…'. A
// requeued event goes out after the events that were published while it was
// parked: out of order, so its consumers must not assume it came first.
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
// once tx commits, with the W3C trace context of ctx; the commit wakes this
// process's relay for the subject. An event id already in the outbox is a
// conflict (sqldb.ErrUnique).
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
	tx.OnCommit(func() { commits.Notify(env.Type) })
	return nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("outbox: " + err.Error())
	}
	return sub
}
