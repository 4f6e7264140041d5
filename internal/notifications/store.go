package notifications

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"emporium/internal/platform/sqldb"
)

// querier is what both *sqldb.DB (reads) and *sqldb.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanner is a row, from QueryRow or from Rows.
type scanner interface{ Scan(dest ...any) error }

// errNoContact: no identity event has told the customer's contact yet.
var errNoContact = errors.New("no contact for the customer yet")

// upsertContact stores c unless the contact stored is from a newer event.
func upsertContact(ctx context.Context, tx *sqldb.Tx, c Contact, now time.Time) error {
	var phone sql.NullString
	if c.Phone != "" {
		phone = sql.NullString{String: c.Phone, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO contacts
		(user_id, email, name, phone, sms_opt_in, as_of, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, name = excluded.name,
			phone = excluded.phone, sms_opt_in = excluded.sms_opt_in, as_of = excluded.as_of,
			updated_at = excluded.updated_at
		WHERE contacts.as_of <= excluded.as_of`,
		c.UserID, c.Email, c.Name, phone, c.SMSOptIn, sqldb.Time(c.AsOf), now)
	return err
}

// lockContact reads a customer's contact inside tx and keeps it locked until
// tx ends, so that the transactions writing to one customer (and counting
// their quota) run one after the other: FOR UPDATE on PostgreSQL; SQLite's
// single writer runs them one at a time already. errNoContact when there is
// none.
func lockContact(ctx context.Context, tx *sqldb.Tx, userID string) (*Contact, error) {
	query := `SELECT user_id, email, name, phone, sms_opt_in, as_of FROM contacts
		WHERE user_id = $1`
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE"
	}
	var c Contact
	var phone sql.NullString
	err := tx.QueryRowContext(ctx, query, userID).Scan(&c.UserID, &c.Email, &c.Name, &phone,
		&c.SMSOptIn, &c.AsOf)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoContact
	}
	if err != nil {
		return nil, err
	}
	c.Phone, c.AsOf = phone.String, c.AsOf.UTC()
	return &c, nil
}

// insertDelivery records d and reports whether it was new: a delivery for
// the same event and channel exists at most once.
func insertDelivery(ctx context.Context, tx *sqldb.Tx, d *Delivery) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, event_type, channel,
			customer_id, recipient, subject, status, attempts, error_code, last_error, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11)
		ON CONFLICT (event_id, channel) DO NOTHING`,
		d.ID, d.EventID, d.EventType, d.Channel, d.CustomerID, d.Recipient, d.Subject, d.Status,
		d.ErrorCode, d.LastError, d.CreatedAt)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// countMessages counts the messages the service set out to send to a
// customer since a time: every delivery but those it never tried (the ones
// stopped by the quota, or without a contact: failed with no attempt).
func countMessages(ctx context.Context, tx *sqldb.Tx, customerID string, since time.Time) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM deliveries
		WHERE customer_id = $1 AND created_at > $2 AND NOT (status = 'failed' AND attempts = 0)`,
		customerID, since).Scan(&n)
	return n, err
}

const deliveryColumns = `id, event_id, event_type, channel, customer_id, recipient, subject,
	status, attempts, provider, error_code, last_error, created_at, sent_at`

func scanDelivery(s scanner) (*Delivery, error) {
	var d Delivery
	var provider, code, lastError sql.NullString
	var sentAt sql.NullTime
	err := s.Scan(&d.ID, &d.EventID, &d.EventType, &d.Channel, &d.CustomerID, &d.Recipient,
		&d.Subject, &d.Status, &d.Attempts, &provider, &code, &lastError, &d.CreatedAt, &sentAt)
	if err != nil {
		return nil, err
	}
	d.Provider, d.ErrorCode, d.LastError = nullable(provider), nullable(code), nullable(lastError)
	d.CreatedAt = d.CreatedAt.UTC()
	if sentAt.Valid {
		t := sentAt.Time.UTC()
		d.SentAt = &t
	}
	return &d, nil
}

func nullable(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// deliveryByID reads one delivery.
func deliveryByID(ctx context.Context, db *sqldb.DB, id string) (*Delivery, error) {
	d, err := scanDelivery(db.QueryRowContext(ctx,
		`SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	return d, nil
}

// markSent records that a delivery was sent, after attempts attempts.
func markSent(ctx context.Context, db *sqldb.DB, id string, attempts int, provider string,
	at time.Time) error {
	_, err := db.ExecContext(ctx, `UPDATE deliveries SET status = 'sent', attempts = $1,
		provider = $2, error_code = NULL, last_error = NULL, sent_at = $3 WHERE id = $4`,
		attempts, provider, at, id)
	return err
}

// markRetrying records a failed attempt that will be tried again.
func markRetrying(ctx context.Context, db *sqldb.DB, id string, attempts int, provider,
	lastError string) error {
	_, err := db.ExecContext(ctx, `UPDATE deliveries SET attempts = $1, provider = $2,
		error_code = $3, last_error = $4 WHERE id = $5 AND status = 'pending'`,
		attempts, provider, ErrorCodeRetrying, lastError, id)
	return err
}

// markFailed records that a delivery failed for good.
func markFailed(ctx context.Context, tx *sqldb.Tx, id string, attempts int, provider, code,
	lastError string) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', attempts = $1,
		provider = $2, error_code = $3, last_error = $4 WHERE id = $5`,
		attempts, provider, code, lastError, id)
	return err
}

// DeliveryFilter narrows a list of deliveries; empty fields do not filter.
type DeliveryFilter struct {
	CustomerID, Status, Channel string
}

// deliveryCursor is the sort keys of the last delivery of a page.
type deliveryCursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

// listDeliveries returns up to limit+1 deliveries matching f, newest first
// (ties by id), after the cursor when there is one. Only the filters set
// are in the query, so that each list uses its index.
func listDeliveries(ctx context.Context, db *sqldb.DB, f DeliveryFilter, after *deliveryCursor,
	limit int) ([]*Delivery, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, c := range []struct{ column, value string }{
		{"customer_id", f.CustomerID}, {"status", f.Status}, {"channel", f.Channel},
	} {
		if c.value != "" {
			where = append(where, c.column+" = "+arg(c.value))
		}
	}
	if after != nil {
		at, id := arg(after.CreatedAt), arg(after.ID)
		where = append(where, "(created_at < "+at+" OR (created_at = "+at+" AND id > "+id+"))")
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id LIMIT " + arg(limit+1)
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// heldEvent is an event waiting for its customer's contact.
type heldEvent struct {
	EventID, CustomerID string
	Envelope            string // the event as JSON
	ReceivedAt          time.Time
}

// holdEvent keeps an event until its customer's contact arrives. Holding it
// twice keeps the first.
func holdEvent(ctx context.Context, tx *sqldb.Tx, h heldEvent) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO held_events (event_id, customer_id, envelope,
		received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
		h.EventID, h.CustomerID, h.Envelope, h.ReceivedAt)
	return err
}

// releaseHeld deletes a held event and reports whether this transaction did:
// of two that release one event, one does and the other finds nothing.
func releaseHeld(ctx context.Context, tx *sqldb.Tx, eventID string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM held_events WHERE event_id = $1`, eventID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// heldEvents returns up to limit held events, oldest first: the customer's
// when customerID is set; otherwise those whose contact exists now (ready),
// or those received before a time (expired).
func heldEvents(ctx context.Context, q querier, where string, limit int, args ...any) ([]heldEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT event_id, customer_id, envelope, received_at
		FROM held_events h WHERE `+where+` ORDER BY received_at, event_id LIMIT `+strconv.Itoa(limit),
		args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heldEvent
	for rows.Next() {
		var h heldEvent
		if err := rows.Scan(&h.EventID, &h.CustomerID, &h.Envelope, &h.ReceivedAt); err != nil {
			return nil, err
		}
		h.ReceivedAt = h.ReceivedAt.UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// The conditions heldEvents selects by.
const (
	heldForCustomer = `customer_id = $1`
	heldReady       = `EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = h.customer_id)`
	heldExpired     = `received_at < $1`
)

// saveOrderNumber remembers an order's number.
func saveOrderNumber(ctx context.Context, tx *sqldb.Tx, orderID, number string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO order_numbers (order_id, number) VALUES ($1, $2)
		ON CONFLICT (order_id) DO NOTHING`, orderID, number)
	return err
}

// orderNumber returns an order's number, or "" when no orders event told it.
func orderNumber(ctx context.Context, tx *sqldb.Tx, orderID string) (string, error) {
	var n string
	err := tx.QueryRowContext(ctx, `SELECT number FROM order_numbers WHERE order_id = $1`,
		orderID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return n, err
}
