package orders

import (
	"context"
	"net/url"
	"time"

	"emporium/internal/platform/httpclient"
)

// paymentsClient is this service's view of the payments service's internal
// API: the payment of an order, created once, cancelled or refunded.
type paymentsClient struct{ c *httpclient.Client }

// Payment is the payment of an order as API.md's Payments section shows it
// to its owner (checkout answers it beside the order).
type Payment struct {
	ID           string    `json:"id"`
	OrderID      string    `json:"order_id"`
	Provider     string    `json:"provider"`
	Amount       Money     `json:"amount"`
	Status       string    `json:"status"`
	ClientSecret string    `json:"client_secret,omitempty"`
	FailureCode  *string   `json:"failure_code"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// create creates the payment of an order, or returns the one it has: payments
// is idempotent by order id, so a retry after a crash finds the first.
func (c paymentsClient) create(ctx context.Context, orderID, customerID string,
	amount Money) (*Payment, error) {
	in := map[string]any{"order_id": orderID, "customer_id": customerID, "amount": amount}
	var p Payment
	if err := c.c.PostJSON(ctx, "/internal/payments", "payment-"+orderID, in, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// cancel cancels an unpaid payment; one that succeeded is a Conflict
// (invalid_transition).
func (c paymentsClient) cancel(ctx context.Context, paymentID string) error {
	return c.c.PostJSON(ctx, "/internal/payments/"+url.PathEscape(paymentID)+"/cancel",
		"cancel-"+paymentID, nil, nil)
}

// refund refunds a succeeded payment in full; payments never refunds twice.
func (c paymentsClient) refund(ctx context.Context, paymentID, reason string) error {
	in := map[string]any{"reason": reason}
	return c.c.PostJSON(ctx, "/internal/payments/"+url.PathEscape(paymentID)+"/refund",
		"refund-"+paymentID, in, nil)
}
