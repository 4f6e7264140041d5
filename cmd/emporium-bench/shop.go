package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"emporium/cmd/emporium-bench/internal/loadtest"
)

// shop is the Emporium being measured and the data the scenarios use.
type shop struct {
	base      string
	c         *http.Client
	run       string // this run's mark, in its idempotency keys
	admin     admin
	products  []string   // the ids of up to 100 listed products
	customers []customer // one per client: cart-read, cart, login
	buyers    []customer // one per client: checkout
	stock     []string   // products with stock enough for every checkout
	sizes     map[string]int
	steps     steps // the checkouts' steps, timed
}

// customer is a registered account and its access token.
type customer struct{ email, password, token string }

const customerPassword = "correct horse battery staple"

func (s *shop) do(ctx context.Context, r loadtest.Request, out any) (int, error) {
	r.URL = s.base + r.URL
	return loadtest.Do(ctx, s.c, r, out)
}

// prepare lists the products and registers a customer for each client.
func (s *shop) prepare(ctx context.Context, clients int) error {
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if _, err := s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/products?limit=100"}, &page); err != nil {
		return fmt.Errorf("list products: %w", err)
	}
	if len(page.Items) < 20 {
		return fmt.Errorf("the shop lists %d products; the scenarios need 20 at least (demo data?)", len(page.Items))
	}
	for _, p := range page.Items {
		s.products = append(s.products, p.ID)
	}
	var err error
	s.customers, err = s.register(ctx, "customer", clients)
	return err
}

// register makes n customers of kind, a few at a time (each is an argon2id
// hash). Against a shop that has them from an earlier run (the first one can
// log in) they log in instead, and only those that cannot are registered:
// registrations, taken or not, count against the shop's limit per address.
func (s *shop) register(ctx context.Context, kind string, n int) ([]customer, error) {
	out := make([]customer, n)
	for i := range out {
		out[i] = customer{email: fmt.Sprintf("bench-%s-%d@example.com", kind, i), password: customerPassword}
	}
	var err error
	out[0].token, err = s.login(ctx, out[0].email, out[0].password)
	var refused *loadtest.StatusError
	existing := err == nil
	if errors.As(err, &refused) && refused.Code == http.StatusUnauthorized {
		out[0].token, err = s.signUp(ctx, out[0])
	}
	if err != nil {
		return nil, fmt.Errorf("register %ss: %w", kind, err)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := &out[i]
			var err error
			if existing {
				c.token, err = s.login(ctx, c.email, c.password)
				var refused *loadtest.StatusError
				if !errors.As(err, &refused) || refused.Code != http.StatusUnauthorized {
					errs[i] = err
					return
				}
			}
			c.token, errs[i] = s.signUp(ctx, *c)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register %ss: %w", kind, err)
	}
	return out, nil
}

// signUp registers c and returns its access token.
func (s *shop) signUp(ctx context.Context, c customer) (string, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_, err := s.do(ctx, loadtest.Request{Method: "POST", URL: "/api/v1/auth/register",
		Body: map[string]any{"email": c.email, "password": c.password, "name": "Bench customer"},
		Want: http.StatusCreated}, &tok)
	return tok.AccessToken, err
}

// login returns an access token of the email's account.
func (s *shop) login(ctx context.Context, email, password string) (string, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_, err := s.do(ctx, loadtest.Request{Method: "POST", URL: "/api/v1/auth/login",
		Body: map[string]any{"email": email, "password": password}}, &tok)
	return tok.AccessToken, err
}

// checkoutStock is what each checkout product is given: more than any run sells.
const checkoutStock = 1_000_000

// checkoutProducts is how many products the checkouts buy, client by client:
// a shop's orders spread over its products, and all of them buying one
// product would measure the wait for that product's stock row.
const checkoutProducts = 16

// stockUp gives the last listed products stock for every checkout, as the admin.
func (s *shop) stockUp(ctx context.Context) error {
	if s.admin.email == "" {
		return errors.New("checkout needs an admin to give products stock: set -admin-email and -admin-password")
	}
	tok, err := s.login(ctx, s.admin.email, s.admin.password)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	s.stock = s.products[len(s.products)-checkoutProducts:]
	for _, id := range s.stock {
		_, err = s.do(ctx, loadtest.Request{Method: "POST", Token: tok,
			URL:  "/api/v1/products/" + id + "/inventory/adjustments",
			Body: map[string]any{"delta": checkoutStock, "reason": "emporium-bench"}}, nil)
		if err != nil {
			return fmt.Errorf("stock up: %w", err)
		}
	}
	return nil
}

// waitCartEmpty polls the customer's cart until it is empty: an order's lines
// leave the cart when the cart service hears of the order.
func (s *shop) waitCartEmpty(ctx context.Context, token string) error {
	deadline := time.Now().Add(30 * time.Second)
	var wait time.Duration
	for {
		var cart struct {
			Items []struct{} `json:"items"`
		}
		if _, err := s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/cart", Token: token}, &cart); err != nil {
			return err
		}
		if len(cart.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the cart was not emptied after the last order")
		}
		wait = pause(wait)
	}
}

// pause sleeps wait and returns the next pause of a poll: 10 ms first, then
// half as long again each time, up to 100 ms, so that 64 clients polling do
// not make most of the load they measure.
func pause(wait time.Duration) time.Duration {
	wait = min(max(wait, 10*time.Millisecond), 100*time.Millisecond)
	time.Sleep(wait)
	return wait * 3 / 2
}

// errNotPaid is a checkout whose order was not paid in time.
var errNotPaid = errors.New("order not paid within 30s")

// checkout fills the cart with one unit of product, places an order, pays it with the
// sandbox's test card and waits until the order is paid. sizes, when not
// nil, gets each answer's size.
func (s *shop) checkout(ctx context.Context, token, product, key string, sizes map[string]int) error {
	t := time.Now()
	n, err := s.do(ctx, loadtest.Request{Method: "POST", URL: "/api/v1/cart/items", Token: token,
		Body: map[string]any{"product_id": product, "quantity": 1}}, nil)
	if err != nil {
		return err
	}
	t = s.steps.lap("1 add to the cart", t)
	record(sizes, "checkout-add", n)
	var placed struct {
		Order struct {
			ID string `json:"id"`
		} `json:"order"`
		Payment struct {
			ID string `json:"id"`
		} `json:"payment"`
	}
	n, err = s.do(ctx, loadtest.Request{Method: "POST", URL: "/api/v1/orders", Token: token,
		Body: shippingAddress, Headers: []string{"Idempotency-Key", key}, Want: http.StatusCreated}, &placed)
	if err != nil {
		return err
	}
	t = s.steps.lap("2 place the order", t)
	record(sizes, "checkout-place", n)
	n, err = s.do(ctx, loadtest.Request{Method: "POST", Token: token,
		URL:  "/api/v1/payments/" + placed.Payment.ID + "/confirm",
		Body: map[string]any{"payment_method": "pm_card_visa"}}, nil)
	if err != nil {
		return err
	}
	t = s.steps.lap("3 confirm the payment", t)
	record(sizes, "checkout-confirm", n)
	// The order is read once and then awaited with its ETag and "Prefer:
	// wait" (each answer comes when it changes); a shop whose answers carry
	// no ETag is polled (see pause).
	deadline := time.Now().Add(30 * time.Second)
	var wait time.Duration
	var etag string
	for {
		var o struct {
			Status string `json:"status"`
		}
		var answer loadtest.Answer
		var conditional []string
		if etag != "" {
			conditional = []string{"If-None-Match", etag, "Prefer", "wait=10"}
		}
		n, err = s.do(ctx, loadtest.Request{Method: "GET", URL: "/api/v1/orders/" + placed.Order.ID,
			Token: token, Headers: conditional, Also: http.StatusNotModified, Answer: &answer}, &o)
		if err != nil {
			return err
		}
		if o.Status == "paid" {
			s.steps.lap("4 until the order is paid", t)
			record(sizes, "checkout-order", n)
			return nil
		}
		if time.Now().After(deadline) {
			return errNotPaid
		}
		if answer.Status == http.StatusOK {
			etag = answer.Header.Get("ETag")
		}
		if etag == "" {
			wait = pause(wait)
		}
	}
}

var shippingAddress = map[string]any{"shipping_address": map[string]any{"name": "Ada Lovelace",
	"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}}

func record(sizes map[string]int, name string, n int) {
	if sizes != nil {
		sizes[name] = n
	}
}

// steps times the steps of an operation, whatever their client.
type steps struct {
	mu  sync.Mutex
	lat map[string]*loadtest.Latencies
}

// lap records the time since t as step name's and returns now.
func (st *steps) lap(name string, t time.Time) time.Time {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lat == nil {
		st.lat = map[string]*loadtest.Latencies{}
	}
	if st.lat[name] == nil {
		st.lat[name] = &loadtest.Latencies{}
	}
	st.lat[name].Add(now.Sub(t))
	return now
}

// take returns each step's latencies so far and starts again.
func (st *steps) take() map[string]loadtest.Summary {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := map[string]loadtest.Summary{}
	for name, l := range st.lat {
		out[name] = l.Summary()
	}
	st.lat = nil
	return out
}
