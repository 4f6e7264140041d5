package main

// What a customer and an admin do in the shop, through its front door.

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/app/apptest"
)

// do sends a request to the front door with an optional bearer token.
func (s *shop) do(method, path, token string, body any, headers ...string) apptest.Response {
	s.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return s.client.Do(method, s.front+path, body, headers...)
}

// expect checks a response's status and, for a problem, its code.
func (s *shop) expect(r apptest.Response, status int, code string) apptest.Response {
	s.t.Helper()
	apptest.Expect(s.t, r, status, code)
	return r
}

func (s *shop) login(email, password string) string {
	s.t.Helper()
	r := s.expect(s.do("POST", "/api/v1/auth/login", "", map[string]any{"email": email,
		"password": password}), http.StatusOK, "")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(s.t, &out)
	return out.AccessToken
}

var customers atomic.Int64

// customer registers a new customer and returns its id and access token.
func (s *shop) customer() (id, token string) {
	s.t.Helper()
	email := fmt.Sprintf("customer%d-%d@example.com", customers.Add(1), time.Now().UnixNano())
	r := s.expect(s.do("POST", "/api/v1/auth/register", "", map[string]any{"email": email,
		"password": "correct horse battery staple", "name": "Customer"}), http.StatusCreated, "")
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	r.JSON(s.t, &out)
	return out.User.ID, out.AccessToken
}

// product makes an active product with stock and returns its id.
func (s *shop) product(price, stock int64) string {
	s.t.Helper()
	sku := fmt.Sprintf("SKU-%d", time.Now().UnixNano())
	r := s.expect(s.do("POST", "/api/v1/products", s.admin, map[string]any{"sku": sku,
		"name": "Product " + sku, "price": money(price), "status": "active"}), http.StatusCreated, "")
	var p struct {
		ID string `json:"id"`
	}
	r.JSON(s.t, &p)
	if stock > 0 {
		s.expect(s.do("POST", "/api/v1/products/"+p.ID+"/inventory/adjustments", s.admin,
			map[string]any{"delta": stock, "reason": "test"}), http.StatusOK, "")
	}
	return p.ID
}

func money(amount int64) map[string]any { return map[string]any{"amount": amount, "currency": "USD"} }

// inventory is a product's stock.
type inventory struct {
	OnHand    int64 `json:"on_hand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
}

func (s *shop) inventory(productID string) inventory {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/products/"+productID+"/inventory", s.admin, nil), http.StatusOK, "")
	var inv inventory
	r.JSON(s.t, &inv)
	return inv
}

// addToCart puts quantity of a product in the customer's cart.
func (s *shop) addToCart(token, productID string, quantity int) {
	s.t.Helper()
	s.expect(s.do("POST", "/api/v1/cart/items", token, map[string]any{"product_id": productID,
		"quantity": quantity}), http.StatusOK, "")
}

// setCartQuantity sets the quantity of a line of the customer's cart; 0
// removes it.
func (s *shop) setCartQuantity(token, productID string, quantity int) {
	s.t.Helper()
	s.expect(s.do("PATCH", "/api/v1/cart/items/"+productID, token, map[string]any{"quantity": quantity}),
		http.StatusOK, "")
}

// cartQuantity is how many of a product the customer's cart holds.
func (s *shop) cartQuantity(token, productID string) int {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/cart", token, nil), http.StatusOK, "")
	var c struct {
		Items []struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		} `json:"items"`
	}
	r.JSON(s.t, &c)
	for _, it := range c.Items {
		if it.ProductID == productID {
			return it.Quantity
		}
	}
	return 0
}

// address is a valid checkout body.
func address() map[string]any {
	return map[string]any{"shipping_address": map[string]any{"name": "Ada Lovelace",
		"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}}
}

// checkout posts a checkout under key.
func (s *shop) checkout(token, key string, body any) apptest.Response {
	s.t.Helper()
	return s.do("POST", "/api/v1/orders", token, body, "Idempotency-Key", key)
}

// placed is the answer to a checkout that placed an order.
type placed struct {
	Order   order   `json:"order"`
	Payment payment `json:"payment"`
}

// payment is a payment as answered.
type payment struct {
	ID           string    `json:"id"`
	OrderID      string    `json:"order_id"`
	Amount       moneyView `json:"amount"`
	Status       string    `json:"status"`
	ClientSecret string    `json:"client_secret"`
	FailureCode  *string   `json:"failure_code"`
}

// order is an order as answered.
type order struct {
	ID             string `json:"id"`
	Number         string `json:"number"`
	CustomerID     string `json:"customer_id"`
	Status         string `json:"status"`
	TrackingNumber string `json:"tracking_number"`
	PaymentID      string `json:"payment_id"`
	Items          []struct {
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	} `json:"items"`
	Subtotal      moneyView `json:"subtotal"`
	Shipping      moneyView `json:"shipping"`
	Total         moneyView `json:"total"`
	StatusHistory []struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"status_history"`
}

// moneyView is money as answered.
type moneyView struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// place checks out the customer's cart and expects an order.
func (s *shop) place(token string) placed {
	s.t.Helper()
	r := s.expect(s.checkout(token, newKey(), address()), http.StatusCreated, "")
	var p placed
	r.JSON(s.t, &p)
	return p
}

// retryCheckout repeats a checkout under key as a careful client does —
// again after a 503 or a 409 request_in_progress, at most every Retry-After —
// until it is answered otherwise, and returns that answer.
func (s *shop) retryCheckout(token, key string) apptest.Response {
	s.t.Helper()
	var r apptest.Response
	eventuallyT(s.t, "the checkout is answered", func() bool {
		r = s.checkout(token, key, address())
		code, _ := r.Problem(s.t)
		if r.Status == http.StatusServiceUnavailable ||
			r.Status == http.StatusConflict && code == "request_in_progress" {
			time.Sleep(100 * time.Millisecond) // a client's pause, not a wait for the test's condition
			return false
		}
		return true
	})
	return r
}

func newKey() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), customers.Add(1)) }

// order reads an order.
func (s *shop) order(token, id string) order {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/orders/"+id, token, nil), http.StatusOK, "")
	var o order
	r.JSON(s.t, &o)
	return o
}

// waitStatus waits until the order has status.
func (s *shop) waitStatus(token, id, status string) order {
	s.t.Helper()
	var o order
	apptest.Eventually(s.t, 20*time.Second, "order "+id+" is "+status, func() bool {
		o = s.order(token, id)
		return o.Status == status
	})
	return o
}

// confirm confirms a payment with a test payment method.
func (s *shop) confirm(token, paymentID, method string) payment {
	s.t.Helper()
	r := s.expect(s.do("POST", "/api/v1/payments/"+paymentID+"/confirm", token,
		map[string]any{"payment_method": method}), http.StatusOK, "")
	var p payment
	r.JSON(s.t, &p)
	return p
}

// paymentOf reads a payment.
func (s *shop) paymentOf(token, id string) payment {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/payments/"+id, token, nil), http.StatusOK, "")
	var p payment
	r.JSON(s.t, &p)
	return p
}

// waitStock waits until a product's stock is want.
func (s *shop) waitStock(productID string, want inventory) {
	s.t.Helper()
	var got inventory
	apptest.Eventually(s.t, 20*time.Second, fmt.Sprintf("stock %+v", want), func() bool {
		got = s.inventory(productID)
		return got == want
	})
}

// orders lists every order of a customer (admin view), all pages.
func (s *shop) ordersOf(customerID string) []order {
	s.t.Helper()
	var all []order
	cursor := ""
	for {
		r := s.expect(s.do("GET", "/api/v1/admin/orders?limit=100&customer_id="+customerID+"&cursor="+cursor,
			s.admin, nil), http.StatusOK, "")
		var page struct {
			Items      []order `json:"items"`
			NextCursor string  `json:"next_cursor"`
		}
		r.JSON(s.t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// eventuallyT waits up to 20 seconds for cond.
func eventuallyT(t testing.TB, what string, cond func() bool) {
	t.Helper()
	apptest.Eventually(t, 20*time.Second, what, cond)
}
