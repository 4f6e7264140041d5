package cart

import (
	"context"
	"fmt"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
)

// placedConsumer names the durable consumer of orders.order.placed, and its
// inbox records.
const placedConsumer = "cart-order-placed"

// orderPlacedConsumer empties carts of what orders bought. The ORDERS
// stream is the orders service's: until it has started once, the consumer
// waits for the stream (see bus.Consume) and the cart serves meanwhile. Four
// orders are applied at once: once per order (inbox), and each holds its
// customer's cart while it changes it.
func (s *Service) orderPlacedConsumer() bus.ConsumerConfig {
	return bus.ConsumerConfig{Stream: event.OrdersStream, Durable: placedConsumer,
		FilterSubjects: []string{event.OrderPlaced}, Concurrency: 4, Handler: s.orderPlaced}
}

// orderPlaced takes the units an order bought out of its customer's cart,
// once per order: the inbox records the order's id, not the event's, so
// that a redelivery — or the same order announced again under a new event
// id — changes nothing. Lines the order did not buy, and units added after
// the checkout, stay.
func (s *Service) orderPlaced(ctx context.Context, env event.Envelope) error {
	if env.Type != event.OrderPlaced {
		return nil
	}
	var o event.OrderChanged
	if err := env.Decode(&o); err != nil {
		return bus.Permanent(err)
	}
	if o.OrderID == "" || o.CustomerID == "" {
		return bus.Permanent(fmt.Errorf("order placed %q: no order_id or customer_id", o.OrderID))
	}
	once := env
	once.ID = "order:" + o.OrderID
	return inbox.Process(ctx, s.db, placedConsumer, once, func(tx *sqldb.Tx) error {
		c, _, err := s.hold(ctx, tx, customer(o.CustomerID), false)
		if err != nil || c == nil {
			return err
		}
		old := c.clone()
		if !c.removeBought(o.Lines) {
			return nil
		}
		c.updatedAt = s.clock()
		return saveCart(ctx, tx, old, c)
	})
}
