package payments

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
)

// ledgerEntry is one row of the append-only payment_ledger: a call to the
// provider (requested, then answered) or a webhook event.
type ledgerEntry struct {
	PaymentID string
	OrderID   string
	Source    string // ledgerCall, ledgerWebhook
	Action    string // create, confirm, cancel, refund, retrieve; or the event's type
	Provider  string
	IntentID  string
	ObjectID  string // the event's, refund's or charge's id
	Key       string // the idempotency key sent
	Amount    *Money
	Outcome   string // "requested", the status answered, or "error"
	Detail    string
}

// Ledger sources.
const (
	ledgerCall    = "call"
	ledgerWebhook = "webhook"
)

// execer runs a statement, in a transaction or not.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// appendLedger writes e. Nothing ever updates or deletes a ledger row (the
// database refuses to).
func appendLedger(ctx context.Context, x execer, e ledgerEntry, now time.Time) error {
	var amount sql.NullInt64
	var currency sql.NullString
	if e.Amount != nil {
		amount = sql.NullInt64{Int64: e.Amount.Amount, Valid: true}
		currency = nullString(e.Amount.Currency)
	}
	_, err := x.ExecContext(ctx, `INSERT INTO payment_ledger (id, payment_id, order_id, source, action,
		provider, intent_id, object_id, idempotency_key, amount, currency, outcome, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		uuid.Must(uuid.NewV7()).String(), nullString(e.PaymentID), nullString(e.OrderID), e.Source, e.Action,
		e.Provider, nullString(e.IntentID), nullString(e.ObjectID), nullString(e.Key), amount, currency,
		e.Outcome, truncate(e.Detail, 1000), now)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n]
}
