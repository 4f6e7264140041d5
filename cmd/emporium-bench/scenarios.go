package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"emporium/cmd/emporium-bench/internal/loadtest"
)

// scenario is one kind of traffic: what it sets up once, the operation each
// client repeats, and the bare server's calls of the same shape (methods,
// request bodies, answers of the same sizes), which bound it.
type scenario struct {
	unit    string // what one operation is: "req" or "op"
	about   string
	prepare func(ctx context.Context, s *shop) error
	op      func(s *shop) loadtest.Op
	bare    func(s *shop) []bareCall
}

// bareCall is one request to the bare server: its answer has size bytes.
type bareCall struct {
	method string
	size   int
	body   any
}

var scenarios = map[string]scenario{
	"product": {unit: "req", about: "GET a product by id (50 products in turn)",
		prepare: func(ctx context.Context, s *shop) error {
			n, err := s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/products/" + s.products[0]}, nil)
			s.sizes["product"] = n
			return err
		},
		op: func(s *shop) loadtest.Op {
			var next atomic.Uint64
			return func(ctx context.Context, _ *loadtest.Worker) error {
				id := s.products[next.Add(1)%uint64(min(len(s.products), 50))]
				_, err := s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/products/" + id}, nil)
				return err
			}
		},
		bare: func(s *shop) []bareCall { return []bareCall{{"GET", s.sizes["product"], nil}} },
	},
	"list": {unit: "req", about: "GET a listing page of 20 products",
		prepare: func(ctx context.Context, s *shop) error {
			n, err := s.do(ctx, loadtest.Request{Method: "GET", URL: listURL}, nil)
			s.sizes["list"] = n
			return err
		},
		op: func(s *shop) loadtest.Op {
			return func(ctx context.Context, _ *loadtest.Worker) error {
				_, err := s.do(ctx, loadtest.Request{Method: "GET", URL: listURL}, nil)
				return err
			}
		},
		bare: func(s *shop) []bareCall { return []bareCall{{"GET", s.sizes["list"], nil}} },
	},
	"cart-read": {unit: "req", about: "GET a signed-in customer's cart of 10 lines, priced by the catalog",
		prepare: prepareCarts,
		op: func(s *shop) loadtest.Op {
			return func(ctx context.Context, w *loadtest.Worker) error {
				var cart cartAnswer
				_, err := s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/cart",
					Token: s.customers[w.ID].token}, &cart)
				if err == nil {
					err = cart.check(10)
				}
				return err
			}
		},
		bare: func(s *shop) []bareCall { return []bareCall{{"GET", s.sizes["cart-read"], nil}} },
	},
	"cart": {unit: "op", about: "add a line, read the cart, remove the line (3 requests)",
		prepare: func(ctx context.Context, s *shop) error {
			if err := prepareCarts(ctx, s); err != nil {
				return err
			}
			return cartChange(ctx, s, s.customers[0].token, s.products[10], s.sizes)
		},
		op: func(s *shop) loadtest.Op {
			return func(ctx context.Context, w *loadtest.Worker) error {
				id := s.products[10+w.ID%(len(s.products)-10)]
				return cartChange(ctx, s, s.customers[w.ID].token, id, nil)
			}
		},
		bare: func(s *shop) []bareCall {
			add := map[string]any{"product_id": s.products[10], "quantity": 1}
			return []bareCall{{"POST", s.sizes["cart-add"], add}, {"GET", s.sizes["cart-get"], nil},
				{"DELETE", s.sizes["cart-remove"], nil}}
		},
	},
	"checkout": {unit: "op", about: "add one of 16 products to the cart, place with an " +
		"Idempotency-Key, confirm with pm_card_visa, wait until paid (If-None-Match and Prefer: wait; the wait for the last " +
		"order to leave the cart is not timed)",
		prepare: func(ctx context.Context, s *shop) error {
			if err := s.stockUp(ctx); err != nil {
				return err
			}
			var err error
			if s.buyers, err = s.register(ctx, "buyer", len(s.customers)); err != nil {
				return err
			}
			for _, b := range s.buyers { // an earlier run may have left a line
				if _, err := s.do(ctx, loadtest.Request{Method: "DELETE", URL: "/api/v1/cart",
					Token: b.token, Want: http.StatusNoContent}, nil); err != nil {
					return fmt.Errorf("empty the carts: %w", err)
				}
			}
			return s.checkout(ctx, s.buyers[0].token, s.stock[0], s.run+"-probe", s.sizes)
		},
		op: func(s *shop) loadtest.Op {
			var keys atomic.Uint64
			return func(ctx context.Context, w *loadtest.Worker) error {
				b := s.buyers[w.ID]
				t := time.Now()
				if err := s.waitCartEmpty(ctx, b.token); err != nil {
					return err
				}
				s.steps.lap("0 wait for the last order to leave the cart (not timed)", t)
				w.Restart()
				return s.checkout(ctx, b.token, s.stock[w.ID%len(s.stock)],
					fmt.Sprintf("%s-%d", s.run, keys.Add(1)), nil)
			}
		},
		bare: func(s *shop) []bareCall {
			return []bareCall{
				{"POST", s.sizes["checkout-add"], map[string]any{"product_id": s.stock[0], "quantity": 1}},
				{"POST", s.sizes["checkout-place"], shippingAddress},
				{"POST", s.sizes["checkout-confirm"], map[string]any{"payment_method": "pm_card_visa"}},
				{"GET", s.sizes["checkout-order"], nil}}
		},
	},
	"login": {unit: "req", about: "POST a customer's email and password (an argon2id hash each)",
		prepare: func(ctx context.Context, s *shop) error {
			n, err := s.do(ctx, loadBody(s.customers[0]), nil)
			s.sizes["login"] = n
			return err
		},
		op: func(s *shop) loadtest.Op {
			return func(ctx context.Context, w *loadtest.Worker) error {
				_, err := s.do(ctx, loadBody(s.customers[w.ID]), nil)
				return err
			}
		},
		bare: func(s *shop) []bareCall {
			return []bareCall{{"POST", s.sizes["login"], loadBody(s.customers[0]).Body}}
		},
	},
}

const listURL = "/api/v1/products?limit=20"

func loadBody(c customer) loadtest.Request {
	return loadtest.Request{Method: "POST", URL: "/api/v1/auth/login",
		Body: map[string]any{"email": c.email, "password": c.password}}
}

// cartAnswer is what a cart read is checked for.
type cartAnswer struct {
	Items []struct{} `json:"items"`
	Stale bool       `json:"stale"`
}

func (c cartAnswer) check(lines int) error {
	if len(c.Items) != lines || c.Stale {
		return fmt.Errorf("a cart of %d lines (want %d), stale %v", len(c.Items), lines, c.Stale)
	}
	return nil
}

// prepareCarts makes every customer's cart the first 10 products, once.
func prepareCarts(ctx context.Context, s *shop) error {
	if _, done := s.sizes["cart-read"]; done {
		return nil
	}
	for _, c := range s.customers {
		// a customer of an earlier run against the same shop may have a cart
		if _, err := s.do(ctx, loadtest.Request{Method: "DELETE", URL: "/api/v1/cart", Token: c.token,
			Want: http.StatusNoContent}, nil); err != nil {
			return fmt.Errorf("empty the carts: %w", err)
		}
		for _, id := range s.products[:10] {
			if _, err := s.do(ctx, loadtest.Request{Method: "POST", URL: "/api/v1/cart/items", Token: c.token,
				Body: map[string]any{"product_id": id, "quantity": 1}}, nil); err != nil {
				return fmt.Errorf("fill the carts: %w", err)
			}
		}
	}
	var cart cartAnswer
	n, err := s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/cart", Token: s.customers[0].token}, &cart)
	if err == nil {
		err = cart.check(10)
	}
	s.sizes["cart-read"] = n
	return err
}

// cartChange adds a unit of product id to the cart, reads the cart and
// removes the line again. sizes, when not nil, gets each answer's size.
func cartChange(ctx context.Context, s *shop, token, id string, sizes map[string]int) error {
	n, err := s.do(ctx, loadtest.Request{Method: "POST", URL: "/api/v1/cart/items", Token: token,
		Body: map[string]any{"product_id": id, "quantity": 1}}, nil)
	if err != nil {
		return err
	}
	record(sizes, "cart-add", n)
	var cart cartAnswer
	if n, err = s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/cart", Token: token}, &cart); err != nil {
		return err
	}
	if err := cart.check(11); err != nil {
		return err
	}
	record(sizes, "cart-get", n)
	n, err = s.do(ctx, loadtest.Request{Method: "DELETE", URL: "/api/v1/cart/items/" + id, Token: token,
		Want: http.StatusOK}, nil)
	record(sizes, "cart-remove", n)
	return err
}

// bareOp sends calls to the bare server at base, one after another.
func bareOp(c *http.Client, base string, calls []bareCall) loadtest.Op {
	return func(ctx context.Context, _ *loadtest.Worker) error {
		for _, call := range calls {
			if _, err := loadtest.Do(ctx, c, loadtest.Request{Method: call.method,
				URL: fmt.Sprintf("%s/?size=%d", base, call.size), Body: call.body}, nil); err != nil {
				return err
			}
		}
		return nil
	}
}
