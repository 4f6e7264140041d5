package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestCheckoutPaidShippedDelivered: a customer checks out their cart, pays
// with pm_card_visa, and an admin ships and delivers; the stock is held, then
// sold; the cart is emptied; every transition is in the history.
func TestCheckoutPaidShippedDelivered(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		cheap, dear := s.product(1500, 10), s.product(2500, 5)
		s.addToCart(token, cheap, 2)
		s.addToCart(token, dear, 1)

		r := s.expect(s.checkout(token, newKey(), address()), http.StatusCreated, "")
		var p placed
		r.JSON(t, &p)
		if loc := r.Header.Get("Location"); loc != "/api/v1/orders/"+p.Order.ID {
			t.Errorf("Location %q", loc)
		}
		o := p.Order
		if o.Status != "pending_payment" || !strings.HasPrefix(o.Number, "EMP-") || len(o.Items) != 2 {
			t.Fatalf("order %+v", o)
		}
		// 2 × 15.00 + 25.00 = 55.00: free shipping from 50.00.
		if o.Subtotal.Amount != 5500 || o.Shipping.Amount != 0 || o.Total.Amount != 5500 {
			t.Errorf("subtotal %d shipping %d total %d", o.Subtotal.Amount, o.Shipping.Amount, o.Total.Amount)
		}
		if p.Payment.ID == "" || p.Payment.ID != o.PaymentID || p.Payment.Amount.Amount != 5500 ||
			p.Payment.Status != "requires_payment_method" {
			t.Errorf("payment %+v for order %+v", p.Payment, o)
		}
		s.waitStock(cheap, inventory{OnHand: 10, Reserved: 2, Available: 8})
		waitCartEmpty(t, s, token, cheap, dear)

		s.confirm(token, p.Payment.ID, "pm_card_visa")
		s.waitStatus(token, o.ID, "paid")
		s.waitStock(cheap, inventory{OnHand: 8, Reserved: 0, Available: 8})
		s.waitStock(dear, inventory{OnHand: 4, Reserved: 0, Available: 4})

		r = s.expect(s.do("POST", "/api/v1/admin/orders/"+o.ID+"/status", s.admin,
			map[string]any{"status": "shipped", "tracking_number": "1Z999AA10123456784"}), http.StatusOK, "")
		var shipped order
		r.JSON(t, &shipped)
		if shipped.Status != "shipped" || shipped.TrackingNumber != "1Z999AA10123456784" {
			t.Errorf("shipped: %+v", shipped)
		}
		s.expect(s.do("POST", "/api/v1/admin/orders/"+o.ID+"/status", s.admin,
			map[string]any{"status": "delivered"}), http.StatusOK, "")
		got := s.order(token, o.ID)
		var statuses []string
		for _, h := range got.StatusHistory {
			statuses = append(statuses, h.Status)
		}
		if strings.Join(statuses, ",") != "pending_payment,paid,shipped,delivered" {
			t.Errorf("history %v", statuses)
		}
	})
}

// A cheaper order pays the flat shipping fee.
func TestShippingFee(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		s.addToCart(token, s.product(1000, 5), 1)
		o := s.place(token).Order
		if o.Shipping.Amount != 499 || o.Total.Amount != 1499 {
			t.Errorf("shipping %d total %d, want 499 and 1499", o.Shipping.Amount, o.Total.Amount)
		}
	})
}

func waitCartEmpty(t *testing.T, s *shop, token string, productIDs ...string) {
	t.Helper()
	eventuallyT(t, "the cart is emptied", func() bool {
		for _, id := range productIDs {
			if s.cartQuantity(token, id) != 0 {
				return false
			}
		}
		return true
	})
}
