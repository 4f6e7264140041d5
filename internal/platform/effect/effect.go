// Package effect performs effects outside the database — an email, an SMS, a
// call to a payment provider — at least once for every change committed to
// the database, however the process stops.
//
// A commit hook (sqldb.Tx.OnCommit) is at most once: a crash between the
// commit and the hook loses the effect, and when the change came from an
// event, the inbox then skips the redelivery that could have made up for it.
// Instead, record the effect in the same transaction as the change:
//
//	err := inbox.Process(ctx, db, "notification", env, func(tx *sqldb.Tx) error {
//		// … the change itself …
//		return effect.Record(ctx, tx, "email", env.ID, Email{To: to, Template: "order_placed"})
//	})
//
// and run a Runner beside the service, with a handler per kind:
//
//	r := effect.NewRunner(db, effect.RunnerConfig{
//		Handlers: map[string]effect.Handler{"email": mailer.Send, "sms": texter.Send},
//		Logger: d.Logger, Registerer: d.Registry,
//	})
//	svc.Workers = append(svc.Workers, app.Worker{Name: "effects", Run: r.Run})
//
// The effect exists exactly when the change does: a transaction that rolls
// back records nothing, and a committed one leaves a row that a Runner — this
// process's, another replica's, or the next start's — performs, retrying with
// backoff, until the handler succeeds; after RunnerConfig.MaxAttempts failed
// attempts it is marked failed, logged at error level and counted
// (emporium_effects_total{result="failed"}), and kept for an operator:
//
//	UPDATE effects SET failed_at = NULL, attempts = 0, next_attempt_at = <now>
//	WHERE id = '…'
//
// sends it round again. Done effects are deleted after RunnerConfig.Retention.
//
// At least once means an effect can be performed twice: when the process
// stops after the handler succeeded and before the effect was marked done.
// Pass Effect.ID as the provider's idempotency key where there is one
// (Stripe's Idempotency-Key, an email's Message-ID).
//
// A service that records effects lists Schema among its Unit's Schemas.
package effect

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/google/uuid"

	"emporium/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema creates the effects table. Migrate it beside the service's own schema.
var Schema = sqldb.Schema{Name: "effect", FS: mustSub(migrations, "migrations")}

// Record records in tx that the effect kind is to be performed with payload
// (stored as JSON) once tx commits. key makes it idempotent: a second Record
// of the same kind and key — from a redelivered event, a retried request —
// records nothing and returns nil. An event's id, or the id of the thing the
// effect is about, makes a good key.
func Record(ctx context.Context, tx *sqldb.Tx, kind, key string, payload any) error {
	if kind == "" || key == "" {
		return errors.New("effect record: kind and key are required")
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("effect record %s %s: %w", kind, key, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("effect record %s %s: %w", kind, key, err)
	}
	now := time.Now().UTC()
	_, err = tx.ExecContext(ctx, `INSERT INTO effects
		(id, kind, key, payload, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, 0, $5, $5) ON CONFLICT (kind, key) DO NOTHING`,
		id.String(), kind, key, string(data), now)
	if err != nil {
		return fmt.Errorf("effect record %s %s: %w", kind, key, sqldb.Translate(err))
	}
	tx.OnCommit(func() { commits.Notify(kind) })
	return nil
}

// Effect is a recorded effect as its handler gets it.
type Effect struct {
	ID        string // a UUIDv7, the same for every attempt
	Kind      string
	Key       string
	Payload   json.RawMessage
	Attempt   int // 1 on the first attempt
	CreatedAt time.Time
}

// Decode unmarshals the payload into v.
func (e Effect) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("effect %s %s: decode payload: %w", e.Kind, e.ID, err)
	}
	return nil
}

// Handler performs one effect and returns nil once it is done. An error
// retries it later; an error marked with bus.Permanent (an address that can
// never receive mail) marks it failed at once. It is called again after a
// stop between its success and the effect's marking, so it should pass e.ID
// on as an idempotency key where the other side takes one.
type Handler func(ctx context.Context, e Effect) error

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("effect: " + err.Error())
	}
	return sub
}
