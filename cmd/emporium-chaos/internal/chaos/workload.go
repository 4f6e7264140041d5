package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"emporium/internal/platform/backoff"
)

// Workload is the checkout storm: customers who register, fill carts,
// check out with an Idempotency-Key (the same key again after any error or
// timeout, as a careful client does), pay (some first with a card that is
// declined), and cancel some orders, paid or not; and an admin who
// restocks and ships.
type Workload struct {
	Base      string
	Customers int
	Seed      uint64
	History   *History
	// Admin's credentials.
	AdminEmail, AdminPassword string

	products []string
	Stats    Stats
}

// Stats are the workload's running counts, for the live summary.
type Stats struct {
	Requests, Failed, Placed, Paid, Cancelled, OutOfStock, Shipped atomic.Int64
}

func (s *Stats) String() string {
	return fmt.Sprintf("requests %d (no answer or 5xx %d), orders %d, paid %d, cancelled %d, "+
		"out of stock %d, shipped %d", s.Requests.Load(), s.Failed.Load(), s.Placed.Load(), s.Paid.Load(),
		s.Cancelled.Load(), s.OutOfStock.Load(), s.Shipped.Load())
}

// address is every checkout's body.
var address = map[string]any{"shipping_address": map[string]any{"name": "Grace Hopper",
	"line1": "1 Compiler Way", "city": "Arlington", "postal_code": "22201", "country": "US"}}

// Run sets the shop up (the admin's products, few units each: customers
// compete for them), then runs the customers and the admin until stop is
// done; what is under way then is finished until hard is done.
func (w *Workload) Run(stop, hard context.Context) error {
	admin, err := w.admin(hard)
	if err != nil {
		return err
	}
	if err := w.setup(hard, admin); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for i := range w.Customers {
		wg.Go(func() { w.customer(stop, hard, i) })
	}
	wg.Go(func() { w.operate(stop, admin) })
	wg.Wait()
	return nil
}

func (w *Workload) newClient(actor string) *client {
	return &client{base: w.Base, history: w.History, actor: actor,
		http: &http.Client{Timeout: 8 * time.Second}}
}

// call sends a request and counts it.
func (w *Workload) call(ctx context.Context, c *client, op Op, method, path string, body any,
	h http.Header) answer {
	a := c.do(ctx, op, method, path, body, h)
	w.Stats.Requests.Add(1)
	if a.Status == 0 || a.Status >= 500 {
		w.Stats.Failed.Add(1)
	}
	return a
}

// persist sends a request until it is answered other than retryable, or
// ctx is done.
func (w *Workload) persist(ctx context.Context, c *client, op Op, method, path string, body any,
	h http.Header) answer {
	wait := 100 * time.Millisecond
	for {
		a := w.call(ctx, c, op, method, path, body, h)
		if !retryable(a) || !backoff.Sleep(ctx, wait) {
			return a
		}
		wait = min(2*wait, 2*time.Second)
	}
}

type session struct {
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	AccessToken string `json:"access_token"`
}

func (w *Workload) admin(ctx context.Context) (*client, error) {
	c := w.newClient("admin")
	var s session
	a := w.persist(ctx, c, Op{Kind: "login"}, "POST", "/api/v1/auth/login",
		map[string]any{"email": w.AdminEmail, "password": w.AdminPassword}, nil)
	if !a.decode(&s) {
		return nil, fmt.Errorf("admin login: %d %s %v", a.Status, a.Body, a.Err)
	}
	c.token, c.userID = s.AccessToken, s.User.ID
	return c, nil
}

// setup creates the products the customers compete for.
func (w *Workload) setup(ctx context.Context, admin *client) error {
	run := randomHex(3)
	for i := range 3 {
		var p struct {
			ID string `json:"id"`
		}
		sku := fmt.Sprintf("CHAOS-%s-%d", run, i)
		a := w.persist(ctx, admin, Op{Kind: "product", Detail: sku}, "POST", "/api/v1/products",
			map[string]any{"sku": sku, "name": "Chaos " + sku, "status": "active",
				"price": map[string]any{"amount": 1500 + 1000*i, "currency": "USD"}}, nil)
		if !a.decode(&p) {
			return fmt.Errorf("create product: %d %s %v", a.Status, a.Body, a.Err)
		}
		w.products = append(w.products, p.ID)
		a = w.restock(ctx, admin, p.ID, 6)
		if a.Status != http.StatusOK {
			return fmt.Errorf("stock product: %d %s %v", a.Status, a.Body, a.Err)
		}
	}
	return nil
}

func (w *Workload) restock(ctx context.Context, admin *client, product string, n int) answer {
	// Not retried after a lost answer: the adjustment is not idempotent, and
	// the checker counts stock from the catalog's ledger, not from here.
	return w.call(ctx, admin, Op{Kind: "restock", Detail: fmt.Sprintf("%s +%d", product, n)}, "POST",
		"/api/v1/products/"+product+"/inventory/adjustments",
		map[string]any{"delta": n, "reason": "chaos restock"}, nil)
}

// operate is the admin: restock a product now and then, ship paid orders
// and deliver shipped ones.
func (w *Workload) operate(stop context.Context, admin *client) {
	rng := rand.New(rand.NewPCG(w.Seed, 1<<32))
	for backoff.Sleep(stop, time.Duration(300+rng.IntN(700))*time.Millisecond) {
		if rng.IntN(3) == 0 {
			w.restock(stop, admin, w.products[rng.IntN(len(w.products))], 1+rng.IntN(3))
		}
		for _, step := range []struct{ from, to string }{{"paid", "shipped"}, {"shipped", "delivered"}} {
			var list struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			a := w.call(stop, admin, Op{Kind: "list", Detail: step.from}, "GET",
				"/api/v1/admin/orders?limit=10&status="+step.from, nil, nil)
			if !a.decode(&list) {
				continue
			}
			for _, o := range list.Items {
				if rng.IntN(2) == 0 {
					continue
				}
				body := map[string]any{"status": step.to}
				if step.to == "shipped" {
					body["tracking_number"] = "TRK" + randomHex(4)
				}
				a := w.call(stop, admin, Op{Kind: step.to, OrderID: o.ID}, "POST",
					"/api/v1/admin/orders/"+o.ID+"/status", body, nil)
				if a.Status == http.StatusOK && step.to == "shipped" {
					w.Stats.Shipped.Add(1)
				}
			}
		}
	}
}
