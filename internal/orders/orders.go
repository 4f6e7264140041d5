// Package orders is the orders service: checkout, the customer's order
// history, cancellation and the admin's shipping updates. Checkout is a saga
// this service orchestrates, persisted step by step in the order's row so that
// no crash loses it: the cart is read, the catalog prices and reserves every
// line at once, the payments service creates the payment, and the order is
// placed; payment outcomes arrive as events, and what follows them (the stock
// committed, released or restocked, the payment cancelled or refunded) is
// recorded in the same transaction as the order's change and performed with
// retries until it is done.
//
// The guarantees: an Idempotency-Key makes one order of any number of
// retries; stock is held in the catalog before an order exists, so it is
// never oversold; a payment is created once per order (payments is
// idempotent by order id); a paid order whose stock cannot be committed, and
// a payment that succeeds after its order was cancelled, are refunded.
package orders

import (
	"encoding/json"
	"fmt"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money = event.Money

// The statuses of an order the public sees: pending_payment → paid →
// shipped → delivered, and pending_payment or paid → cancelled.
const (
	StatusPendingPayment = "pending_payment"
	StatusPaid           = "paid"
	StatusShipped        = "shipped"
	StatusDelivered      = "delivered"
	StatusCancelled      = "cancelled"
)

// The statuses of an order that was never placed, which the public never
// sees: statusCheckout while the checkout saga runs, statusFailed once it
// gave up (short stock, or the payment could not be created in time). Their
// rows are kept so that a payment event about them is recognised.
const (
	statusCheckout = "checkout"
	statusFailed   = "failed"
)

// publicStatuses are the statuses a list may filter on.
var publicStatuses = []string{StatusPendingPayment, StatusPaid, StatusShipped, StatusDelivered,
	StatusCancelled}

// The steps of the checkout saga, in the order's step column: the stock is
// reserved, then the payment created, then the order placed. Each step is
// keyed by the order id (the reservation id is the order id; payments is
// idempotent by order id), so repeating a step after a crash repeats nothing.
const (
	stepReserving = "reserving" // the row exists; the reservation is due
	stepReserved  = "reserved"  // the stock is held; the payment is due
	stepPlaced    = "placed"    // the payment exists; the order is pending_payment or later
	stepFailed    = "failed"    // the checkout gave up; the order was never placed
)

// Why an order's status changed, in status_history and in events.
const (
	ReasonPlaced           = "placed"
	ReasonPaymentSucceeded = "payment_succeeded"
	ReasonShipped          = "shipped"
	ReasonDelivered        = "delivered"
	ReasonCustomer         = "customer"
	ReasonAdmin            = "admin"
	ReasonWindowClosed     = "payment_window_closed"
	ReasonPaymentCanceled  = "payment_canceled"
	// ReasonStockLapsed cancels (and refunds) a paid order whose reservation
	// could no longer be committed: its payment arrived after the hold ended.
	ReasonStockLapsed = "stock_unavailable"
)

// The service's errors, with API.md's codes.
var (
	ErrNotFound          = errs.New(errs.NotFound, "not_found", "no such order")
	ErrInvalidTransition = errs.New(errs.Conflict, "invalid_transition",
		"the order's status does not allow this")
	ErrCartEmpty    = errs.New(errs.Invalid, "cart_empty", "the cart is empty")
	ErrInsufficient = errs.New(errs.Conflict, "insufficient_stock", "not enough stock")
	ErrKeyRequired  = errs.New(errs.Malformed, "idempotency_key_required",
		"POST /api/v1/orders needs an Idempotency-Key header")
	ErrKeyReused = errs.New(errs.Invalid, "idempotency_key_reused",
		"this Idempotency-Key was used with another body")
	ErrInProgress = errs.New(errs.Conflict, "request_in_progress",
		"a request with this Idempotency-Key is still running; retry after Retry-After seconds")
	ErrTooLarge = errs.New(errs.Invalid, "order_too_large",
		"the order's total is more than one payment may be (99999999 minor units)")
)

// maxTotal is the largest total one payment may be (the payments service's limit).
const maxTotal = 99_999_999

// Line is a line of an order as it was bought: the name and price it had.
type Line = event.OrderLine

// Address is where an order is shipped.
type Address struct {
	Name       string  `json:"name"`
	Line1      string  `json:"line1"`
	Line2      *string `json:"line2"`
	City       string  `json:"city"`
	PostalCode string  `json:"postal_code"`
	Country    string  `json:"country"` // ISO 3166-1 alpha-2, upper case
}

// StatusChange is one entry of an order's status history.
type StatusChange struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Order is an order and its history. Its status changes only through the
// methods named for what happened (MarkPaid, Ship, Deliver, Cancel), which
// refuse a transition the state machine does not have and record every one
// in the history.
type Order struct {
	id, number, customerID string
	status, step           string
	lines                  []Line
	subtotal, shipping     Money
	total                  Money
	address                Address
	trackingNumber         string
	paymentID              string
	history                []StatusChange
	createdAt, updatedAt   time.Time

	idempotencyKey string    // the checkout's key, whose record the saga completes
	paymentDueAt   time.Time // when an unpaid order is cancelled; zero before placing
	leaseUntil     time.Time // until then, the checkout saga is left to whoever drives it
}

// placed reports whether the order was placed: whether the public sees it.
func (o *Order) placed() bool { return o.status != statusCheckout && o.status != statusFailed }

// reservationID is the id of the order's stock reservation in the catalog:
// the order's own id, so that a repeated reservation holds nothing twice.
func (o *Order) reservationID() string { return o.id }

// version counts the order's status changes, 1 once placed.
func (o *Order) version() int { return len(o.history) }

func (o *Order) change(status, reason string, at time.Time) {
	o.status, o.updatedAt = status, at
	o.history = append(o.history, StatusChange{Status: status, At: at, Reason: reason})
}

// transition moves the order from one of from to status, or returns
// ErrInvalidTransition naming where it stands.
func (o *Order) transition(status, reason string, at time.Time, from ...string) error {
	for _, f := range from {
		if o.status == f {
			o.change(status, reason, at)
			return nil
		}
	}
	return fmt.Errorf("%w: the order is %s", ErrInvalidTransition, o.publicStatus())
}

// publicStatus is the status as a client may hear it.
func (o *Order) publicStatus() string {
	if !o.placed() {
		return "not placed"
	}
	return o.status
}

// Place makes a checked-out order pending_payment with its payment, due by
// dueAt.
func (o *Order) Place(paymentID string, at, dueAt time.Time) error {
	if err := o.transition(StatusPendingPayment, ReasonPlaced, at, statusCheckout); err != nil {
		return err
	}
	o.step, o.paymentID, o.paymentDueAt = stepPlaced, paymentID, dueAt
	return nil
}

// Fail ends a checkout that could not place the order.
func (o *Order) Fail(at time.Time) error {
	if o.status != statusCheckout {
		return fmt.Errorf("%w: the order is %s", ErrInvalidTransition, o.publicStatus())
	}
	o.status, o.step, o.updatedAt = statusFailed, stepFailed, at
	return nil
}

// MarkPaid records that the order's payment succeeded.
func (o *Order) MarkPaid(at time.Time) error {
	return o.transition(StatusPaid, ReasonPaymentSucceeded, at, StatusPendingPayment)
}

// Ship records that a paid order left the warehouse, with its tracking
// number if there is one.
func (o *Order) Ship(trackingNumber string, at time.Time) error {
	if err := o.transition(StatusShipped, ReasonShipped, at, StatusPaid); err != nil {
		return err
	}
	o.trackingNumber = trackingNumber
	return nil
}

// Deliver records that a shipped order arrived.
func (o *Order) Deliver(at time.Time) error {
	return o.transition(StatusDelivered, ReasonDelivered, at, StatusShipped)
}

// Cancel cancels an order that is pending payment or paid, and reports
// whether it was paid: then its payment is to be refunded and its units
// restocked; else its payment is to be cancelled and its hold released.
func (o *Order) Cancel(reason string, at time.Time) (wasPaid bool, err error) {
	wasPaid = o.status == StatusPaid
	if err := o.transition(StatusCancelled, reason, at, StatusPendingPayment, StatusPaid); err != nil {
		return false, err
	}
	return wasPaid, nil
}

// orderJSON is the order as API.md shows it.
type orderJSON struct {
	ID             string         `json:"id"`
	Number         string         `json:"number"`
	CustomerID     string         `json:"customer_id"`
	Status         string         `json:"status"`
	Items          []Line         `json:"items"`
	Subtotal       Money          `json:"subtotal"`
	Shipping       Money          `json:"shipping"`
	Total          Money          `json:"total"`
	Address        Address        `json:"shipping_address"`
	TrackingNumber *string        `json:"tracking_number"`
	PaymentID      *string        `json:"payment_id"`
	History        []StatusChange `json:"status_history"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

// MarshalJSON writes the order as API.md's order: tracking_number and
// payment_id are null until there is one.
func (o *Order) MarshalJSON() ([]byte, error) {
	return json.Marshal(orderJSON{ID: o.id, Number: o.number, CustomerID: o.customerID,
		Status: o.status, Items: o.lines, Subtotal: o.subtotal, Shipping: o.shipping,
		Total: o.total, Address: o.address, TrackingNumber: nullable(o.trackingNumber),
		PaymentID: nullable(o.paymentID), History: o.history, CreatedAt: o.createdAt,
		UpdatedAt: o.updatedAt})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// changed is the data of the event that announces the order's last change.
func (o *Order) changed(refunded bool) event.OrderChanged {
	last := o.history[len(o.history)-1]
	return event.OrderChanged{OrderID: o.id, Number: o.number, CustomerID: o.customerID,
		Status: o.status, Lines: o.lines, Subtotal: o.subtotal, Shipping: o.shipping,
		Total: o.total, PaymentID: o.paymentID, TrackingNumber: o.trackingNumber,
		Reason: last.Reason, Refunded: refunded, Version: o.version(), At: last.At}
}

// eventTypes names the event of each status an order enters.
var eventTypes = map[string]string{
	StatusPendingPayment: event.OrderPlaced,
	StatusPaid:           event.OrderPaid,
	StatusShipped:        event.OrderShipped,
	StatusDelivered:      event.OrderDelivered,
	StatusCancelled:      event.OrderCancelled,
}

// Shipping is the store's shipping rule: a flat fee, free from a subtotal on.
type Shipping struct {
	Fee      int64 // minor units
	FreeFrom int64 // minor units; a subtotal of at least this ships free
}

// For returns the shipping of an order with subtotal.
func (s Shipping) For(subtotal Money) Money {
	if subtotal.Amount >= s.FreeFrom {
		return Money{Amount: 0, Currency: subtotal.Currency}
	}
	return Money{Amount: s.Fee, Currency: subtotal.Currency}
}
