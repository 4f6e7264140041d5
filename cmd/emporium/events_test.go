package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"emporium/internal/event"
	"emporium/internal/platform/bus/bustest"
)

// orderEvents reads the events of one order from the ORDERS stream, in order.
func (s *shop) orderEvents(orderID string) []event.OrderChanged {
	s.t.Helper()
	b := bustest.Dial(s.t, s.natsURL)
	var out []event.OrderChanged
	for _, m := range bustest.Messages(s.t, b, event.OrdersStream) {
		var env event.Envelope
		var oc event.OrderChanged
		if err := json.Unmarshal(m.Data, &env); err != nil {
			s.t.Fatal(err)
		}
		if err := env.Decode(&oc); err != nil {
			s.t.Fatal(err)
		}
		if oc.OrderID == orderID {
			if env.Type != m.Subject || env.Source != event.OrdersSource {
				s.t.Errorf("event %s on %s from %s", env.Type, m.Subject, env.Source)
			}
			out = append(out, oc)
		}
	}
	return out
}

// TestOrderEvents: every status an order enters is announced once, in
// order, with what the cart and notifications need — the customer, number,
// lines and total; the tracking number when shipped; the reason and whether
// it was refunded when cancelled — and a version counting the changes.
func TestOrderEvents(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		customerID, token := s.customer()
		product := s.product(1250, 9)
		s.addToCart(token, product, 3)
		shipped := s.place(token)
		s.confirm(token, shipped.Payment.ID, "pm_card_visa")
		s.waitStatus(token, shipped.Order.ID, "paid")
		for _, st := range []map[string]any{{"status": "shipped", "tracking_number": "TRACK-1"},
			{"status": "delivered"}} {
			s.expect(s.do("POST", "/api/v1/admin/orders/"+shipped.Order.ID+"/status", s.admin, st),
				http.StatusOK, "")
		}
		waitCartEmpty(t, s, token, product)
		s.addToCart(token, product, 1)
		refunded := s.place(token)
		s.confirm(token, refunded.Payment.ID, "pm_card_visa")
		s.waitStatus(token, refunded.Order.ID, "paid")
		s.expect(s.do("POST", "/api/v1/orders/"+refunded.Order.ID+"/cancel", token, nil), http.StatusOK, "")

		var evs []event.OrderChanged
		eventuallyT(t, "every event is published", func() bool {
			evs = s.orderEvents(shipped.Order.ID)
			return len(evs) == 4 && len(s.orderEvents(refunded.Order.ID)) == 3
		})
		for i, want := range []string{"pending_payment", "paid", "shipped", "delivered"} {
			e := evs[i]
			if e.Status != want || e.Version != i+1 || e.CustomerID != customerID || e.Number != shipped.Order.Number ||
				len(e.Lines) != 1 || e.Lines[0].Quantity != 3 || e.Total.Amount != 3750+499 ||
				e.PaymentID != shipped.Payment.ID {
				t.Errorf("event %d: %+v", i, e)
			}
		}
		if evs[2].TrackingNumber != "TRACK-1" {
			t.Errorf("shipped without its tracking number: %+v", evs[2])
		}
		cancelled := s.orderEvents(refunded.Order.ID)[2]
		if cancelled.Status != "cancelled" || cancelled.Reason != "customer" || !cancelled.Refunded ||
			cancelled.Version != 3 {
			t.Errorf("cancelled: %+v", cancelled)
		}
	})
}
