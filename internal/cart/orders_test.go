package cart

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
)

// ordersBus connects to the env's NATS server as the orders service would,
// and makes its stream (the cart started before it existed).
func (e *env) ordersBus() *bus.Bus {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, e.natsURL, "orders", bus.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(b.Close)
	if err := b.EnsureStream(ctx, bus.StreamConfig{Name: event.OrdersStream, Subjects: []string{"orders.>"}}); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// placed is orders.order.placed for a customer's order of lines.
func placed(t testing.TB, orderID, customerID string, lines ...event.OrderLine) event.Envelope {
	t.Helper()
	env, err := event.New(event.OrderPlaced, event.OrdersSource, event.OrderChanged{
		OrderID: orderID, Number: "EMP-10001", CustomerID: customerID, Status: "pending_payment",
		Lines: lines, Version: 1, At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// handled waits until the cart's consumer has acknowledged n messages.
func (e *env) handled(b *bus.Bus, n uint64) {
	e.t.Helper()
	eventually(e.t, 15*time.Second, "the cart handles the orders events", func() bool {
		c, err := b.JetStream().Consumer(context.Background(), event.OrdersStream, placedConsumer)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.AckFloor.Stream >= n && info.NumAckPending == 0
	})
}

// orders.order.placed removes exactly the bought quantities, once however
// often it is delivered (or announced): lines not bought, and units added
// after the checkout, stay.
func TestOrderPlacedEmptiesCart(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug, tea, pen := e.createProduct(1299, 10), e.createProduct(450, 5), e.createProduct(99, 5)
		ada, bob := e.customer("ada"), e.customer("bob")
		e.add(ada, mug.ID, 2)
		e.add(ada, tea.ID, 1)
		e.add(bob, mug.ID, 2)
		// Ada checks out with 2 mugs and 1 tea, then adds a mug and a pen.
		env := placed(t, "order-1", "ada", event.OrderLine{ProductID: mug.ID, Quantity: 2},
			event.OrderLine{ProductID: tea.ID, Quantity: 1})
		e.add(ada, mug.ID, 1)
		e.add(ada, pen.ID, 1)

		b := e.ordersBus()
		if err := b.PublishEvent(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		// The same event again, as a redelivery would bring it: a message of
		// its own (another Nats-Msg-Id gets past the stream's deduplication).
		raw, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.JetStream().PublishMsg(context.Background(), &nats.Msg{Subject: env.Type, Data: raw},
			jetstream.WithMsgID(env.ID+"-again")); err != nil {
			t.Fatal(err)
		}
		// And the same order announced again under a new event id.
		if err := b.PublishEvent(context.Background(), placed(t, "order-1", "ada",
			event.OrderLine{ProductID: mug.ID, Quantity: 2}, event.OrderLine{ProductID: tea.ID, Quantity: 1})); err != nil {
			t.Fatal(err)
		}
		e.handled(b, 3)

		want := []StoredLine{{mug.ID, 1}, {pen.ID, 1}}
		if got := itemsOf(e.read(ada)); !slices.Equal(got, want) {
			t.Errorf("ada's cart after the order = %v, want %v", got, want)
		}
		if got := itemsOf(e.read(bob)); !slices.Equal(got, []StoredLine{{mug.ID, 2}}) {
			t.Errorf("bob's cart = %v", got)
		}

		// An order of a customer without a cart changes nothing, and stays handled.
		if err := b.PublishEvent(context.Background(), placed(t, "order-2", "nobody",
			event.OrderLine{ProductID: mug.ID, Quantity: 1})); err != nil {
			t.Fatal(err)
		}
		e.handled(b, 4)
		r := e.call("GET", "/internal/carts/nobody")
		expect(t, r, http.StatusOK, "")
	})
}

// call sends a request to the cart's internal listener with the service
// credential.
func (e *env) call(method, path string) response {
	e.t.Helper()
	return e.client.Do(method, e.internal+path, nil, "X-Emporium-Service-Token", e.token)
}

// GET /internal/carts/{customer_id} answers the lines as stored; a customer
// without a cart has an empty one, and reading makes none.
func TestStoredCart(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug, tea := e.createProduct(1299, 10), e.createProduct(450, 5)
		ada := e.customer("ada")
		e.add(ada, mug.ID, 2)
		c := e.add(ada, tea.ID, 1)

		r := e.call("GET", "/internal/carts/ada")
		expect(t, r, http.StatusOK, "")
		var got Stored
		r.JSON(t, &got)
		want := []StoredLine{{mug.ID, 2}, {tea.ID, 1}}
		if got.CustomerID != "ada" || !slices.Equal(got.Items, want) || got.UpdatedAt == nil ||
			!got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Errorf("stored cart = %+v, want %v updated at %v", got, want, c.UpdatedAt)
		}

		r = e.call("GET", "/internal/carts/bob")
		expect(t, r, http.StatusOK, "")
		var empty map[string]any
		r.JSON(t, &empty)
		if items, ok := empty["items"].([]any); !ok || len(items) != 0 || empty["customer_id"] != "bob" {
			t.Errorf("a customer without a cart: %s", r.Body)
		}
		if _, ok := empty["updated_at"]; ok {
			t.Errorf("a customer without a cart has updated_at: %s", r.Body)
		}

		r = e.client.Do("GET", e.internal+"/internal/carts/ada", nil)
		expect(t, r, http.StatusUnauthorized, "unauthenticated")
		r = e.client.Do("GET", e.internal+"/internal/carts/ada", nil, "X-Emporium-Service-Token", "wrong")
		expect(t, r, http.StatusUnauthorized, "unauthenticated")
		// The internal route is not on the public listener.
		expect(t, e.plain.Do("GET", e.url+"/internal/carts/ada", nil, "X-Emporium-Service-Token", e.token),
			http.StatusNotFound, "not_found")
	})
}

// 50 concurrent adds of one product to one cart all count, on both
// databases.
func TestConcurrentAdds(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug := e.createProduct(1299, 10)
		for _, who := range []struct {
			name  string
			token string
		}{{"customer", e.customer("ada")}, {"guest", ""}} {
			t.Run(who.name, func(t *testing.T) {
				var cartToken string
				headers := []string{}
				if who.token == "" {
					cartToken = e.newGuestCart(mug.ID, 1)
					headers = append(headers, TokenHeader, cartToken)
				} else {
					e.add(who.token, mug.ID, 1)
				}
				const n = 50
				statuses := make([]int, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						statuses[i] = e.do("POST", "/api/v1/cart/items", who.token,
							map[string]any{"product_id": mug.ID, "quantity": 1}, headers...).Status
					})
				}
				wg.Wait()
				for i, s := range statuses {
					if s != http.StatusOK {
						t.Fatalf("add %d answered %d", i, s)
					}
				}
				var items []StoredLine
				if who.token == "" {
					items = e.guestItems(cartToken)
				} else {
					items = itemsOf(e.read(who.token))
				}
				if !slices.Equal(items, []StoredLine{{mug.ID, n + 1}}) {
					t.Errorf("after %d concurrent adds of 1 to 1: %v", n, items)
				}
			})
		}
	})
}

// The cart survives a restart of the cart service: customers' and guests'
// carts both.
func TestCartSurvivesRestart(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug := e.createProduct(1299, 10)
		ada := e.customer("ada")
		before := e.add(ada, mug.ID, 3)
		token := e.newGuestCart(mug.ID, 2)
		e.restartCart()
		after := e.read(ada)
		if after.ID != before.ID || !slices.Equal(itemsOf(after), itemsOf(before)) ||
			!after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("after a restart: %+v, want %+v", after, before)
		}
		if got := e.guestItems(token); !slices.Equal(got, []StoredLine{{mug.ID, 2}}) {
			t.Errorf("guest cart after a restart: %v", got)
		}
	})
}
