package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"emporium/internal/platform/backoff"
)

// customer registers, then orders again and again until stop is done,
// finishing the order under way until hard is done.
func (w *Workload) customer(stop, hard context.Context, i int) {
	rng := rand.New(rand.NewPCG(w.Seed, uint64(i)))
	c := w.newClient(fmt.Sprintf("customer-%d", i))
	if !w.register(stop, c, i) {
		return
	}
	for n := 0; stop.Err() == nil; n++ {
		for range 1 + rng.IntN(2) {
			product := w.products[rng.IntN(len(w.products))]
			w.call(stop, c, Op{Kind: "add", Detail: product}, "POST", "/api/v1/cart/items",
				map[string]any{"product_id": product, "quantity": 1 + rng.IntN(2)}, nil)
		}
		key := fmt.Sprintf("chaos-%d-%d-%s", i, n, randomHex(4))
		var placed struct {
			Order struct {
				ID string `json:"id"`
			} `json:"order"`
			Payment struct {
				ID string `json:"id"`
			} `json:"payment"`
		}
		// The same key until the checkout is answered for good, even past
		// stop: an order placed must be known, to be paid or cancelled.
		a := w.persist(hard, c, Op{Kind: "checkout", Key: key}, "POST", "/api/v1/orders", address,
			http.Header{"Idempotency-Key": {key}})
		switch {
		case a.Status == http.StatusCreated && a.decode(&placed):
			c.history.Add(Op{At: time.Now(), Actor: c.actor, Customer: c.userID, Kind: "placed",
				Key: key, OrderID: placed.Order.ID, PaymentID: placed.Payment.ID, Status: http.StatusCreated})
			w.Stats.Placed.Add(1)
			w.settle(hard, c, rng, placed.Order.ID, placed.Payment.ID)
		case a.code() == "insufficient_stock":
			w.Stats.OutOfStock.Add(1)
			w.call(stop, c, Op{Kind: "empty"}, "DELETE", "/api/v1/cart", nil, nil)
			// Come back later, when the admin may have restocked.
			backoff.Sleep(stop, time.Duration(200+rng.IntN(800))*time.Millisecond)
		}
	}
}

// register signs the customer up; after a lost answer, the account may
// exist: then it logs in.
func (w *Workload) register(ctx context.Context, c *client, i int) bool {
	email := fmt.Sprintf("chaos-%d-%s@example.com", i, randomHex(4))
	body := map[string]any{"email": email, "password": "chaos password " + email, "name": "Chaos"}
	for ctx.Err() == nil {
		var s session
		a := w.persist(ctx, c, Op{Kind: "register"}, "POST", "/api/v1/auth/register", body, nil)
		if a.Status == http.StatusConflict {
			a = w.persist(ctx, c, Op{Kind: "login"}, "POST", "/api/v1/auth/login",
				map[string]any{"email": email, "password": body["password"]}, nil)
		}
		if a.decode(&s) {
			c.token, c.userID = s.AccessToken, s.User.ID
			return true
		}
		backoff.Sleep(ctx, time.Second)
	}
	return false
}

// settle pays an order or cancels it: one in ten is cancelled unpaid; a
// quarter of the payments are first tried with a card that is declined;
// one paid order in eight is cancelled (refunded).
func (w *Workload) settle(ctx context.Context, c *client, rng *rand.Rand, orderID, paymentID string) {
	if rng.IntN(10) == 0 {
		w.cancel(ctx, c, orderID)
		return
	}
	if rng.IntN(4) == 0 {
		w.confirm(ctx, c, orderID, paymentID, "pm_card_chargeDeclined")
	}
	if !w.confirm(ctx, c, orderID, paymentID, "pm_card_visa") {
		return
	}
	var o struct {
		Status string `json:"status"`
	}
	until(ctx, 15*time.Second, 300*time.Millisecond, func() bool {
		a := w.call(ctx, c, Op{Kind: "order", OrderID: orderID}, "GET", "/api/v1/orders/"+orderID, nil, nil)
		return a.decode(&o) && o.Status != "pending_payment"
	})
	if o.Status == "paid" || o.Status == "shipped" || o.Status == "delivered" {
		w.Stats.Paid.Add(1)
		if rng.IntN(8) == 0 {
			w.cancel(ctx, c, orderID)
		}
	}
}

// confirm pays with method until the payment answers (declined, processing
// or succeeded) or cannot be paid any more; it reports whether it can be
// paid on.
func (w *Workload) confirm(ctx context.Context, c *client, orderID, paymentID, method string) bool {
	a := w.persist(ctx, c, Op{Kind: "confirm", OrderID: orderID, PaymentID: paymentID, Detail: method},
		"POST", "/api/v1/payments/"+paymentID+"/confirm", map[string]any{"payment_method": method}, nil)
	return a.Status == http.StatusOK || a.code() == "invalid_transition"
}

func (w *Workload) cancel(ctx context.Context, c *client, orderID string) {
	a := w.persist(ctx, c, Op{Kind: "cancel", OrderID: orderID}, "POST", "/api/v1/orders/"+orderID+"/cancel",
		nil, nil)
	if a.Status == http.StatusOK {
		w.Stats.Cancelled.Add(1)
	}
}
