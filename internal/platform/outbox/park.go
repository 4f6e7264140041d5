package outbox

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"emporium/internal/platform/sqldb"
)

// outcome is what a round did with its batch: the rows it published and the
// rows it parks.
type outcome struct {
	sent   []row
	parked []parkedRow
}

// parkedRow is a row the bus can never take, and why.
type parkedRow struct {
	row
	reason string
}

// handled counts the rows the round is done with.
func (o outcome) handled() int { return len(o.sent) + len(o.parked) }

// record marks the sent rows published and parks the others, in tx.
func (o outcome) record(ctx context.Context, tx *sqldb.Tx) error {
	if len(o.sent) > 0 {
		if err := markPublished(ctx, tx, o.sent); err != nil {
			return err
		}
	}
	return park(ctx, tx, o.parked)
}

// recorded counts and logs an outcome once it is committed.
func (r *Relay) recorded(o outcome) {
	r.m.published.Add(float64(len(o.sent)))
	r.m.parked.Add(float64(len(o.parked)))
	for _, p := range o.parked {
		r.log.Error("outbox relay: event parked: the bus can never take it; "+
			"fix the cause, then requeue it (see the outbox package documentation)",
			"event_id", p.eventID, "subject", p.subject, "seq", p.seq, "reason", p.reason)
	}
}

// park sets rows aside with their reasons: the relay no longer reads them,
// and cleanup keeps them.
func park(ctx context.Context, tx *sqldb.Tx, rows []parkedRow) error {
	now := time.Now().UTC()
	for _, p := range rows {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET parked_at = $1, parked_reason = $2
			WHERE seq = $3`, now, p.reason, p.seq); err != nil {
			return fmt.Errorf("park %s: %w", p.eventID, err)
		}
	}
	return nil
}

// maxReason bounds the reason kept with a parked row, in bytes.
const maxReason = 1000

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
