package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestIdempotency: one key makes one order, whatever is repeated, however
// often and however concurrently; another body under the key is refused.
func TestIdempotency(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		product := s.product(1000, 100)
		t.Run("repeat", func(t *testing.T) {
			id, token := s.customer()
			s.addToCart(token, product, 2)
			key := newKey()
			first := s.expect(s.checkout(token, key, address()), http.StatusCreated, "")
			var p placed
			first.JSON(t, &p)
			// The same body, written otherwise: the same request.
			reordered := `{ "shipping_address": {"country":"GB", "postal_code":"SW1Y 4JH", "city":"London",
				"line1":"12 St James's Square", "name":"Ada Lovelace"} }`
			again := s.expect(s.checkout(token, key, reordered), http.StatusCreated, "")
			if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("repeat answered %s, want the first answer replayed", again.Body)
			}
			other := address()
			other["shipping_address"].(map[string]any)["city"] = "Paris"
			s.expect(s.checkout(token, key, other), http.StatusUnprocessableEntity, "idempotency_key_reused")
			if os := s.ordersOf(id); len(os) != 1 || os[0].PaymentID != p.Payment.ID {
				t.Errorf("orders %+v, want the one order with payment %s", os, p.Payment.ID)
			}
			// Keys belong to their customer: another customer's same key is theirs.
			_, bob := s.customer()
			s.addToCart(bob, product, 1)
			var b placed
			s.expect(s.checkout(bob, key, address()), http.StatusCreated, "").JSON(t, &b)
			if b.Order.ID == p.Order.ID {
				t.Error("another customer's key replayed this customer's order")
			}
		})
		t.Run("20 at once", func(t *testing.T) {
			id, token := s.customer()
			s.addToCart(token, product, 1)
			key := newKey()
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			orderIDs := map[string]bool{}
			for range 20 {
				wg.Go(func() {
					r := s.checkout(token, key, address())
					mu.Lock()
					defer mu.Unlock()
					statuses[r.Status]++
					if r.Status == http.StatusCreated {
						var p placed
						r.JSON(t, &p)
						orderIDs[p.Order.ID] = true
					} else if code, _ := r.Problem(t); r.Status != http.StatusConflict ||
						code != "request_in_progress" || r.Header.Get("Retry-After") == "" {
						t.Errorf("answer %d %s", r.Status, r.Body)
					}
				})
			}
			wg.Wait()
			if statuses[http.StatusCreated] == 0 || len(orderIDs) != 1 {
				t.Errorf("answers %v, orders %v: want one order", statuses, orderIDs)
			}
			if os := s.ordersOf(id); len(os) != 1 {
				t.Errorf("%d orders, want 1", len(os))
			}
			if inv := s.inventory(product); inv.Reserved != 4 { // 2 and 1 above, and this one
				t.Errorf("stock %+v: more held than ordered", inv)
			}
		})
	})
}

// TestNoOversell: 50 customers race for 10 units; exactly 10 orders are
// placed, the others are refused with insufficient_stock, and the catalog's
// counts agree before and after payment.
func TestNoOversell(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		product := s.product(700, 10)
		type buyer struct{ id, token string }
		buyers := make([]buyer, 50)
		for i := range buyers {
			buyers[i].id, buyers[i].token = s.customer()
			s.addToCart(buyers[i].token, product, 1)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []placed
		refused := 0
		for _, b := range buyers {
			wg.Go(func() {
				r := s.checkout(b.token, newKey(), address())
				mu.Lock()
				defer mu.Unlock()
				switch code, _ := r.Problem(t); {
				case r.Status == http.StatusCreated:
					var p placed
					r.JSON(t, &p)
					won = append(won, p)
				case r.Status == http.StatusConflict && code == "insufficient_stock":
					refused++
				default:
					t.Errorf("answer %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if len(won) != 10 || refused != 40 {
			t.Fatalf("%d placed, %d refused; want 10 and 40", len(won), refused)
		}
		if inv := s.inventory(product); inv != (inventory{OnHand: 10, Reserved: 10, Available: 0}) {
			t.Fatalf("stock %+v after the race", inv)
		}
		for _, p := range won {
			s.confirm(tokenOf(buyers, p.Order.CustomerID), p.Payment.ID, "pm_card_visa")
		}
		s.waitStock(product, inventory{OnHand: 0, Reserved: 0, Available: 0})
	})
}

func tokenOf[B interface{ ~struct{ id, token string } }](buyers []B, id string) string {
	for _, b := range buyers {
		if s := struct{ id, token string }(b); s.id == id {
			return s.token
		}
	}
	return ""
}

// TestDeclineThenRetry: a declined card leaves the order waiting; another
// method pays it.
func TestDeclineThenRetry(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		product := s.product(2000, 4)
		s.addToCart(token, product, 1)
		p := s.place(token)
		declined := s.confirm(token, p.Payment.ID, "pm_card_chargeDeclined")
		if declined.Status != "requires_payment_method" || declined.FailureCode == nil ||
			*declined.FailureCode != "card_declined" {
			t.Fatalf("declined payment %+v", declined)
		}
		if o := s.order(token, p.Order.ID); o.Status != "pending_payment" {
			t.Fatalf("after a decline the order is %s", o.Status)
		}
		s.confirm(token, p.Payment.ID, "pm_card_visa")
		s.waitStatus(token, p.Order.ID, "paid")
		s.waitStock(product, inventory{OnHand: 3, Reserved: 0, Available: 3})
	})
}

// TestPaymentWindow: an order not paid within the window is cancelled, its
// payment canceled and its stock released; a paid one is left alone.
func TestPaymentWindow(t *testing.T) {
	eachDB(t, shopOptions{window: 2 * time.Second}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		product := s.product(900, 5)
		s.addToCart(token, product, 2)
		unpaid := s.place(token)
		waitCartEmpty(t, s, token, product)
		s.addToCart(token, product, 1)
		paid := s.place(token)
		s.confirm(token, paid.Payment.ID, "pm_card_visa")
		s.waitStatus(token, paid.Order.ID, "paid")

		o := s.waitStatus(token, unpaid.Order.ID, "cancelled")
		if r := o.StatusHistory[len(o.StatusHistory)-1].Reason; r != "payment_window_closed" {
			t.Errorf("reason %q", r)
		}
		eventuallyT(t, "the payment is canceled", func() bool {
			return s.paymentOf(token, unpaid.Payment.ID).Status == "canceled"
		})
		s.waitStock(product, inventory{OnHand: 4, Reserved: 0, Available: 4})
		if o := s.order(token, paid.Order.ID); o.Status != "paid" {
			t.Errorf("the paid order is %s after its window", o.Status)
		}
		// Too late to pay.
		s.expect(s.do("POST", "/api/v1/payments/"+unpaid.Payment.ID+"/confirm", token,
			map[string]any{"payment_method": "pm_card_visa"}), http.StatusConflict, "invalid_transition")
	})
}

// TestCancelPaidOrder: cancelling a paid order refunds its payment and puts
// its units back on hand; a shipped order cannot be cancelled.
func TestCancelPaidOrder(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		product := s.product(3000, 6)
		s.addToCart(token, product, 2)
		p := s.place(token)
		s.confirm(token, p.Payment.ID, "pm_card_visa")
		s.waitStatus(token, p.Order.ID, "paid")
		s.waitStock(product, inventory{OnHand: 4, Reserved: 0, Available: 4})
		s.expect(s.do("POST", "/api/v1/orders/"+p.Order.ID+"/cancel", s.admin, nil), http.StatusOK, "")
		eventuallyT(t, "the payment is refunded", func() bool {
			return s.paymentOf(token, p.Payment.ID).Status == "refunded"
		})
		s.waitStock(product, inventory{OnHand: 6, Reserved: 0, Available: 6})
		if o := s.order(token, p.Order.ID); o.StatusHistory[len(o.StatusHistory)-1].Reason != "admin" {
			t.Errorf("history %+v", o.StatusHistory)
		}

		waitCartEmpty(t, s, token, product)
		s.addToCart(token, product, 1)
		shipped := s.place(token)
		s.confirm(token, shipped.Payment.ID, "pm_card_visa")
		s.waitStatus(token, shipped.Order.ID, "paid")
		s.expect(s.do("POST", "/api/v1/admin/orders/"+shipped.Order.ID+"/status", s.admin,
			map[string]any{"status": "shipped"}), http.StatusOK, "")
		s.expect(s.do("POST", "/api/v1/orders/"+shipped.Order.ID+"/cancel", token, nil), http.StatusConflict,
			"invalid_transition")
	})
}

// TestPaymentAfterCancellation: a payment that succeeds after its order was
// cancelled is refunded, never kept. The order is cancelled while its
// payment cannot be cancelled (payments does not answer), the orders service
// stops, the customer pays, and the orders service comes back to the news.
func TestPaymentAfterCancellation(t *testing.T) {
	eachDB(t, shopOptions{faults: true}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		product := s.product(1800, 3)
		s.addToCart(token, product, 1)
		p := s.place(token)
		s.paymentsFaults.set("POST", "/cancel", failBefore)
		s.expect(s.do("POST", "/api/v1/orders/"+p.Order.ID+"/cancel", token, nil), http.StatusOK, "")
		s.stop("orders")
		s.paymentsFaults.clear()
		if got := s.confirm(token, p.Payment.ID, "pm_card_visa"); got.Status != "succeeded" {
			t.Fatalf("payment %+v", got)
		}
		s.restart("orders")
		eventuallyT(t, "the late payment is refunded", func() bool {
			return s.paymentOf(token, p.Payment.ID).Status == "refunded"
		})
		if o := s.order(token, p.Order.ID); o.Status != "cancelled" {
			t.Errorf("order %s, want it to stay cancelled", o.Status)
		}
		s.waitStock(product, inventory{OnHand: 3, Reserved: 0, Available: 3})
	})
}

// TestCrashRecovery stops the checkout after each of its steps in turn — the
// order row written, the stock reserved, the payment created — and shows it
// converges, by a retry under the same key or, with no retry, by the
// recovery worker after the orders service restarts: one order, one payment,
// the stock committed once paid, no hold left.
func TestCrashRecovery(t *testing.T) {
	steps := []struct {
		name         string
		faults       func(s *shop) *faults
		method, path string
		rule         fault
	}{
		{"after the order row", func(s *shop) *faults { return s.catalogFaults },
			"POST", "/internal/reservations", failBefore},
		{"after the reservation", func(s *shop) *faults { return s.catalogFaults },
			"POST", "/internal/reservations", failAfter},
		{"after the payment was created", func(s *shop) *faults { return s.paymentsFaults },
			"POST", "/internal/payments", failAfter},
	}
	eachDB(t, shopOptions{faults: true}, func(t *testing.T, s *shop) {
		type stalled struct {
			step, id, token, key, product string
		}
		var left []stalled
		for _, st := range steps {
			for _, retry := range []bool{true, false} {
				id, token := s.customer()
				product := s.product(1100, 5)
				s.addToCart(token, product, 2)
				key := newKey()
				f := st.faults(s)
				f.set(st.method, st.path, st.rule)
				s.expect(s.checkout(token, key, address()), http.StatusServiceUnavailable, "unavailable")
				f.clear()
				if !retry {
					left = append(left, stalled{st.name, id, token, key, product})
					continue
				}
				r := s.expect(s.retryCheckout(token, key), http.StatusCreated, "")
				var p placed
				r.JSON(t, &p)
				settle(t, s, st.name+", retried", id, token, product, p)
			}
		}
		// No retry: the orders service restarts and its recovery finishes them.
		s.restart("orders")
		for _, l := range left {
			var os []order
			eventuallyT(t, l.step+": the recovery places the order", func() bool {
				os = s.ordersOf(l.id)
				return len(os) == 1
			})
			// The key answers with the order the recovery placed.
			r := s.expect(s.retryCheckout(l.token, l.key), http.StatusCreated, "")
			var p placed
			r.JSON(t, &p)
			if p.Order.ID != os[0].ID {
				t.Errorf("%s: the key answers order %s, the recovery placed %s", l.step, p.Order.ID, os[0].ID)
			}
			settle(t, s, l.step+", recovered", l.id, l.token, l.product, p)
		}
	})
}

// settle checks a recovered checkout: one order, whose payment is the one
// answered, with 2 units held; paying it commits them and leaves no hold.
func settle(t *testing.T, s *shop, what, customerID, token, product string, p placed) {
	t.Helper()
	os := s.ordersOf(customerID)
	if len(os) != 1 || os[0].ID != p.Order.ID || os[0].PaymentID != p.Payment.ID {
		t.Fatalf("%s: orders %+v, want only %s with payment %s", what, os, p.Order.ID, p.Payment.ID)
	}
	if pay := s.paymentOf(token, p.Payment.ID); pay.OrderID != p.Order.ID {
		t.Fatalf("%s: payment %+v", what, pay)
	}
	if inv := s.inventory(product); inv != (inventory{OnHand: 5, Reserved: 2, Available: 3}) {
		t.Fatalf("%s: stock %+v, want 2 held once", what, inv)
	}
	s.confirm(token, p.Payment.ID, "pm_card_visa")
	s.waitStatus(token, p.Order.ID, "paid")
	s.waitStock(product, inventory{OnHand: 3, Reserved: 0, Available: 3})
}

// TestReplicas: two replicas of the orders service on one database share its
// work and do none of it twice — stalled checkouts are placed once, unpaid
// orders are cancelled once, and every hold is released once.
func TestReplicas(t *testing.T) {
	eachDB(t, shopOptions{faults: true, window: 3 * time.Second}, func(t *testing.T, s *shop) {
		s.replica("orders")
		product := s.product(500, 20)
		type buyer struct{ id, token, key string }
		var buyers []buyer
		for range 4 {
			id, token := s.customer()
			s.addToCart(token, product, 2)
			buyers = append(buyers, buyer{id, token, newKey()})
		}
		// Every other checkout stalls after its payment was created (one at a
		// time, so that the payments client's breaker stays closed).
		for i, b := range buyers {
			if i%2 == 1 {
				s.expect(s.retryCheckout(b.token, b.key), http.StatusCreated, "")
				continue
			}
			s.paymentsFaults.set("POST", "/internal/payments", failAfter)
			s.expect(s.checkout(b.token, b.key, address()), http.StatusServiceUnavailable, "unavailable")
			s.paymentsFaults.clear()
		}
		// Every order is placed once, and cancelled once when its window closes.
		for _, b := range buyers {
			var os []order
			eventuallyT(t, "the order is placed and then cancelled", func() bool {
				os = s.ordersOf(b.id)
				return len(os) == 1 && os[0].Status == "cancelled"
			})
			var statuses []string
			for _, h := range s.order(b.token, os[0].ID).StatusHistory {
				statuses = append(statuses, h.Status)
			}
			if fmt.Sprint(statuses) != "[pending_payment cancelled]" {
				t.Errorf("history %v", statuses)
			}
		}
		s.waitStock(product, inventory{OnHand: 20, Reserved: 0, Available: 20})
	})
}
