package event

import "time"

// The orders service's event types.
const (
	OrderPlaced    = "orders.order.placed"
	OrderPaid      = "orders.order.paid"
	OrderShipped   = "orders.order.shipped"
	OrderDelivered = "orders.order.delivered"
	OrderCancelled = "orders.order.cancelled"
)

// OrdersSource is the source of the orders service's events; OrdersStream
// is the stream they are published on (subjects orders.>).
const (
	OrdersSource = "orders"
	OrdersStream = "ORDERS"
)

// OrderLine is one line of an order as it was bought.
type OrderLine struct {
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	UnitPrice Money  `json:"unit_price"`
	Quantity  int    `json:"quantity"`
	LineTotal Money  `json:"line_total"`
}

// OrderChanged is the data of every orders.order.* event: the order as it
// stands after the change the event announces. Version counts the order's
// status changes (1 when placed), so a consumer that sees events out of
// order keeps the highest.
//
// orders.order.placed tells the cart service which quantities to remove
// from the customer's cart; .paid, .shipped and .cancelled are what the
// notifications service writes to the customer about.
type OrderChanged struct {
	OrderID        string      `json:"order_id"`
	Number         string      `json:"number"`
	CustomerID     string      `json:"customer_id"`
	Status         string      `json:"status"`
	Lines          []OrderLine `json:"lines"`
	Subtotal       Money       `json:"subtotal"`
	Shipping       Money       `json:"shipping"`
	Total          Money       `json:"total"`
	PaymentID      string      `json:"payment_id,omitempty"`
	TrackingNumber string      `json:"tracking_number,omitempty"`
	// Reason says why the status changed, for a cancellation: "customer",
	// "admin", "payment_window_closed".
	Reason string `json:"reason,omitempty"`
	// Refunded is set on orders.order.cancelled of an order that was paid.
	Refunded bool      `json:"refunded,omitempty"`
	Version  int       `json:"version"`
	At       time.Time `json:"at"`
}
