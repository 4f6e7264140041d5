package event

import "time"

// The payments service's event types.
const (
	PaymentSucceeded = "payments.payment.succeeded"
	PaymentFailed    = "payments.payment.failed"
	PaymentRefunded  = "payments.payment.refunded"
	PaymentCanceled  = "payments.payment.canceled"
)

// PaymentsSource is the source of the payments service's events;
// PaymentsStream is the stream they are published on (subjects payments.>).
const (
	PaymentsSource = "payments"
	PaymentsStream = "PAYMENTS"
)

// PaymentChanged is the data of every payments.payment.* event.
//
// payments.payment.succeeded is sent once per payment, when it first
// succeeds; .failed for each declined attempt (the payment goes on waiting
// for another method), with FailureCode; .canceled once, when the payment is
// canceled unpaid; .refunded for each refund, with Refund and the total
// refunded so far in Refunded.
type PaymentChanged struct {
	PaymentID   string `json:"payment_id"`
	OrderID     string `json:"order_id"`
	CustomerID  string `json:"customer_id"`
	Provider    string `json:"provider"`
	Status      string `json:"status"`
	Amount      Money  `json:"amount"`
	FailureCode string `json:"failure_code,omitempty"`
	// Refund is the amount of this refund (payments.payment.refunded only).
	Refund *Money `json:"refund,omitempty"`
	// Refunded is the total refunded so far.
	Refunded *Money    `json:"refunded,omitempty"`
	At       time.Time `json:"at"`
}
