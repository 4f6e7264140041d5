package main

import (
	"net/http"
	"slices"
	"testing"
)

// TestOrdersAPI holds every route of API.md's Orders section to its answers,
// error codes included.
func TestOrdersAPI(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		aliceID, alice := s.customer()
		_, bob := s.customer()
		widget := s.product(1200, 3)

		t.Run("auth", func(t *testing.T) {
			s.expect(s.do("GET", "/api/v1/orders", "", nil), http.StatusUnauthorized, "unauthenticated")
			s.expect(s.checkout("", newKey(), address()), http.StatusUnauthorized, "unauthenticated")
			s.expect(s.do("GET", "/api/v1/admin/orders", alice, nil), http.StatusForbidden, "forbidden")
			s.expect(s.do("POST", "/api/v1/admin/orders/x/status", alice,
				map[string]any{"status": "shipped"}), http.StatusForbidden, "forbidden")
		})
		t.Run("checkout needs a key", func(t *testing.T) {
			s.expect(s.do("POST", "/api/v1/orders", alice, address()), http.StatusBadRequest,
				"idempotency_key_required")
		})
		t.Run("empty cart", func(t *testing.T) {
			key := newKey()
			s.expect(s.checkout(alice, key, address()), http.StatusUnprocessableEntity, "cart_empty")
			// The first answer stands for the key, even once the cart has lines.
			s.addToCart(alice, widget, 1)
			r := s.expect(s.checkout(alice, key, address()), http.StatusUnprocessableEntity, "cart_empty")
			if r.Header.Get("Idempotent-Replayed") != "true" {
				t.Error("a replay without Idempotent-Replayed")
			}
			s.setCartQuantity(alice, widget, 0)
		})
		t.Run("address rules", func(t *testing.T) {
			body := address()
			addr := body["shipping_address"].(map[string]any)
			addr["country"], addr["postal_code"] = "USA", "12/34"
			delete(addr, "city")
			r := s.expect(s.checkout(alice, newKey(), body), http.StatusUnprocessableEntity, "validation_failed")
			_, fields := r.Problem(t)
			want := []string{"shipping_address.city", "shipping_address.postal_code", "shipping_address.country"}
			if !slices.Equal(fields, want) {
				t.Errorf("fields %v, want %v", fields, want)
			}
			s.expect(s.checkout(alice, newKey(), map[string]any{}), http.StatusUnprocessableEntity,
				"validation_failed")
			s.expect(s.checkout(alice, newKey(), map[string]any{"shipping_address": addr, "extra": 1}),
				http.StatusUnprocessableEntity, "validation_failed")
			s.expect(s.checkout(alice, newKey(), `{"shipping_address":`), http.StatusBadRequest, "malformed_json")
		})
		t.Run("insufficient stock leaves the cart", func(t *testing.T) {
			other := s.product(800, 10)
			s.addToCart(alice, widget, 5) // 3 on hand
			s.addToCart(alice, other, 1)
			r := s.expect(s.checkout(alice, newKey(), address()), http.StatusConflict, "insufficient_stock")
			var p struct {
				Lines []struct {
					ProductID string `json:"product_id"`
					Requested int64  `json:"requested"`
					Available int64  `json:"available"`
				} `json:"lines"`
			}
			r.JSON(t, &p)
			if len(p.Lines) != 1 || p.Lines[0].ProductID != widget || p.Lines[0].Requested != 5 ||
				p.Lines[0].Available != 3 {
				t.Errorf("lines %+v", p.Lines)
			}
			if s.cartQuantity(alice, widget) != 5 || s.cartQuantity(alice, other) != 1 {
				t.Error("a failed checkout changed the cart")
			}
			if got := s.inventory(other); got.Reserved != 0 {
				t.Errorf("a failed checkout holds stock: %+v", got)
			}
			if n := len(s.ordersOf(aliceID)); n != 0 {
				t.Errorf("%d orders after a failed checkout", n)
			}
		})

		t.Run("a total no payment may be", func(t *testing.T) {
			_, rich := s.customer()
			yacht := s.product(100_000_000, 2) // 1,000,000.00: more than one payment may be
			s.addToCart(rich, yacht, 1)
			s.expect(s.checkout(rich, newKey(), address()), http.StatusUnprocessableEntity, "order_too_large")
			if inv := s.inventory(yacht); inv.Reserved != 0 {
				t.Errorf("stock %+v held for an order that cannot be paid", inv)
			}
		})

		// Alice's cart now fits: 3 of 3 widgets.
		s.setCartQuantity(alice, widget, 3)
		first := s.place(alice)
		t.Run("checkout answers the client secret", func(t *testing.T) {
			// The customer confirms a Stripe payment in the browser with it.
			own := s.paymentOf(alice, first.Payment.ID)
			if first.Payment.ClientSecret == "" || first.Payment.ClientSecret != own.ClientSecret {
				t.Errorf("checkout answered client_secret %q, the payment has %q",
					first.Payment.ClientSecret, own.ClientSecret)
			}
		})
		t.Run("reads", func(t *testing.T) {
			s.expect(s.do("GET", "/api/v1/orders/"+first.Order.ID, bob, nil), http.StatusNotFound, "not_found")
			s.expect(s.do("GET", "/api/v1/orders/no-such-order", alice, nil), http.StatusNotFound, "not_found")
			s.expect(s.do("GET", "/api/v1/orders/"+first.Order.ID, s.admin, nil), http.StatusOK, "")
			s.expect(s.do("POST", "/api/v1/orders/"+first.Order.ID+"/cancel", bob, nil), http.StatusNotFound,
				"not_found")
			var list struct {
				Items []order `json:"items"`
			}
			s.expect(s.do("GET", "/api/v1/orders", bob, nil), http.StatusOK, "").JSON(t, &list)
			if len(list.Items) != 0 {
				t.Errorf("bob sees %d orders", len(list.Items))
			}
			s.expect(s.do("GET", "/api/v1/orders?status=paid", alice, nil), http.StatusOK, "").JSON(t, &list)
			if len(list.Items) != 0 {
				t.Errorf("%d paid orders, want 0", len(list.Items))
			}
			s.expect(s.do("GET", "/api/v1/orders?status=pending_payment", alice, nil), http.StatusOK, "").JSON(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != first.Order.ID {
				t.Errorf("pending orders %+v", list.Items)
			}
			s.expect(s.do("GET", "/api/v1/orders?status=lost", alice, nil), http.StatusUnprocessableEntity,
				"validation_failed")
			s.expect(s.do("GET", "/api/v1/orders?limit=0", alice, nil), http.StatusUnprocessableEntity,
				"validation_failed")
			s.expect(s.do("GET", "/api/v1/orders?cursor=%21", alice, nil), http.StatusUnprocessableEntity,
				"validation_failed")
			s.expect(s.do("GET", "/api/v1/admin/orders?customer_id="+aliceID, s.admin, nil), http.StatusOK, "").JSON(t, &list)
			if len(list.Items) != 1 {
				t.Errorf("admin sees %d of alice's orders", len(list.Items))
			}
		})
		t.Run("admin status", func(t *testing.T) {
			path := "/api/v1/admin/orders/" + first.Order.ID + "/status"
			for _, status := range []string{"paid", "cancelled", "pending_payment", "lost"} {
				s.expect(s.do("POST", path, s.admin, map[string]any{"status": status}),
					http.StatusUnprocessableEntity, "validation_failed")
			}
			s.expect(s.do("POST", path, s.admin, map[string]any{"status": "shipped"}), http.StatusConflict,
				"invalid_transition")
			s.expect(s.do("POST", path, s.admin, map[string]any{"status": "delivered"}), http.StatusConflict,
				"invalid_transition")
			s.expect(s.do("POST", "/api/v1/admin/orders/nope/status", s.admin, map[string]any{"status": "shipped"}),
				http.StatusNotFound, "not_found")
		})
		t.Run("cancel unpaid", func(t *testing.T) {
			r := s.expect(s.do("POST", "/api/v1/orders/"+first.Order.ID+"/cancel", alice, nil), http.StatusOK, "")
			var o order
			r.JSON(t, &o)
			if o.Status != "cancelled" || o.StatusHistory[len(o.StatusHistory)-1].Reason != "customer" {
				t.Errorf("cancelled order %+v", o)
			}
			s.expect(s.do("POST", "/api/v1/orders/"+first.Order.ID+"/cancel", alice, nil), http.StatusConflict,
				"invalid_transition")
			s.waitStock(widget, inventory{OnHand: 3, Reserved: 0, Available: 3})
			eventuallyT(t, "the payment is canceled", func() bool {
				return s.paymentOf(alice, first.Payment.ID).Status == "canceled"
			})
		})
	})
}

// TestPagination: pages of the customer's orders never repeat or skip one.
func TestPagination(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		_, token := s.customer()
		product := s.product(100, 100)
		var want []string
		for range 5 {
			s.addToCart(token, product, 1)
			o := s.place(token).Order
			want = append([]string{o.ID}, want...) // newest first
			waitCartEmpty(t, s, token, product)
		}
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			r := s.expect(s.do("GET", "/api/v1/orders?limit=2&cursor="+cursor, token, nil), http.StatusOK, "")
			var page struct {
				Items      []order `json:"items"`
				NextCursor string  `json:"next_cursor"`
			}
			r.JSON(t, &page)
			for _, o := range page.Items {
				got = append(got, o.ID)
			}
			if page.NextCursor == "" {
				break
			}
			if pages > 5 {
				t.Fatal("too many pages")
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages %v, want %v", got, want)
		}
	})
}
