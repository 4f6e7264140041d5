// Package payments is the payments service: one payment per order, modelled
// on Stripe's PaymentIntent, taken through a provider — Stripe, or the
// in-process sandbox that follows Stripe's test payment methods — with an
// idempotency key on every mutating call, so that no retry, crash or second
// replica ever charges twice.
//
// The provider's outcomes reach a payment through one function, apply, from
// three places: the answer to our own call, Stripe's signed webhook events
// (the sandbox delivers its events to the same handler), and the reconciler,
// which asks the provider about payments left unsettled. Each answer moves a
// payment only forward (see Payment.observe), so events that arrive twice or
// out of order end in the right state, and each change is announced through
// the outbox (payments.payment.*).
//
// Every call to the provider and every webhook event is written to the
// append-only payment_ledger table, so "was this order charged?" is answered
// from the database alone.
package payments

import (
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
)

// Payment statuses, Stripe's PaymentIntent statuses ("refunded" is ours: a
// succeeded payment whose whole amount was refunded).
const (
	RequiresPaymentMethod = "requires_payment_method"
	RequiresAction        = "requires_action"
	Processing            = "processing"
	Succeeded             = "succeeded"
	Canceled              = "canceled"
	Refunded              = "refunded"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money = event.Money

// Payment is an order's payment.
type Payment struct {
	ID           string
	OrderID      string
	CustomerID   string
	Provider     string
	IntentID     string // the provider's PaymentIntent id; "" until it answered the create
	ClientSecret string
	Amount       Money // never changes after creation
	Status       string
	FailureCode  string
	Refunded     int64 // minor units refunded so far
	// Attempts counts the confirm attempts started; PendingMethod is the
	// payment method of the last one while its answer is not recorded.
	Attempts      int
	PendingMethod string
	// ProviderAt is the time (whole seconds) of the provider's state last
	// applied; an event older than it never moves the payment.
	ProviderAt int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// The service's errors, with API.md's codes.
var (
	ErrNotFound   = errs.New(errs.NotFound, "not_found", "no such payment")
	ErrTransition = errs.New(errs.Conflict, "invalid_transition",
		"the payment is not in a state that allows this")
	ErrMismatch = errs.New(errs.Conflict, "payment_mismatch",
		"this order already has a payment of another amount or customer")
	ErrRefundFailed = errs.New(errs.Conflict, "refund_failed",
		"the provider refused this refund; an operator must look at it")
	ErrUnknownMethod = errs.Invalidf("payment_method", "is not a payment method the provider accepts")
	ErrUnavailable   = errs.New(errs.Unavailable, "unavailable", "the payment provider is not available")
	ErrBadSignature  = errs.New(errs.Malformed, "invalid_signature",
		"the Stripe-Signature header does not verify this body")
)

// confirmable reports whether a payment method may be confirmed on p now.
func (p *Payment) confirmable() bool {
	return p.Status == RequiresPaymentMethod || p.Status == RequiresAction
}

// settled reports whether p has reached a status the provider can no longer
// change: succeeded (then refunded) or canceled.
func (p *Payment) settled() bool {
	return p.Status == Succeeded || p.Status == Refunded || p.Status == Canceled
}

// change is what applying a provider's answer did to a payment: the events to
// announce.
type change struct {
	succeeded bool
	canceled  bool
	failed    string // the failure code of a newly reported declined attempt
	moved     bool   // anything of the payment changed
}

// observe applies the provider's view of the PaymentIntent to p and reports
// what changed. The rules keep a payment from moving backwards, however the
// answers arrive:
//
//   - succeeded and canceled are final: once there, nothing moves p but a
//     refund; a success reported for a payment that is not yet settled always
//     applies (a success after a decline ends succeeded);
//   - the other statuses (requires_payment_method, requires_action,
//     processing) apply only to an unsettled payment, and only when the
//     answer is not older than the state last applied (fresh answers to our
//     own calls always are; a webhook event counts by its created time).
//
// A declined attempt of an unsettled payment is reported (change.failed)
// whatever its order; that it is announced once per attempt is the caller's
// job (payment_failures). One reported after the payment settled no longer
// matters and is not.
func (p *Payment) observe(in Intent, fresh bool) change {
	var c change
	if p.settled() {
		return c
	}
	switch in.Status {
	case Succeeded:
		p.Status, p.FailureCode = Succeeded, ""
		c.succeeded, c.moved = true, true
	case Canceled:
		p.Status = Canceled
		c.canceled, c.moved = true, true
	case RequiresPaymentMethod, RequiresAction, Processing:
		c.failed = in.FailureCode // reported even when older: each declined attempt is announced
		if !fresh && in.At < p.ProviderAt {
			return c // an older state: it must not undo a newer one
		}
		if p.Status != in.Status || (in.FailureCode != "" && p.FailureCode != in.FailureCode) {
			c.moved = true
		}
		p.Status = in.Status
		if in.FailureCode != "" {
			p.FailureCode = in.FailureCode
		} else if in.Status != RequiresPaymentMethod {
			p.FailureCode = "" // a new attempt is under way
		}
	default:
		return c // requires_confirmation, requires_capture: not used by this service
	}
	if in.At > p.ProviderAt {
		p.ProviderAt = in.At
	}
	return c
}
