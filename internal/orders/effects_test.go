package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// peer answers internal calls as the catalog and payments do, each route
// with the answer a test gives it (a status and, for a problem, a code), and
// records the calls.
type peer struct {
	mu      sync.Mutex
	answers map[string]answer // by "METHOD path"
	calls   []string
}

type answer struct {
	status int
	code   string // a problem's code; a JSON object otherwise
	body   any
}

func newPeer(t *testing.T) (*peer, string) {
	p := &peer{answers: map[string]answer{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Method + " " + r.URL.Path
		p.mu.Lock()
		p.calls = append(p.calls, name)
		a, ok := p.answers[name]
		p.mu.Unlock()
		switch {
		case !ok:
			web.WriteError(w, r, errs.New(errs.NotFound, "not_found", "no such thing"))
		case a.code != "":
			kind := map[int]errs.Kind{404: errs.NotFound, 409: errs.Conflict}[a.status]
			web.WriteError(w, r, errs.New(kind, a.code, a.code))
		default:
			_ = web.JSON(w, a.status, a.body)
		}
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *peer) answer(method, path string, a answer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[method+" "+path] = a
}

func (p *peer) called() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// effectsService is the service on db, its catalog and payments the peer.
func effectsService(t *testing.T, db *sqldb.DB) (*Service, *peer) {
	p, url := newPeer(t)
	s := New(app.Deps{DB: db, ServiceToken: auth.NewServiceSecret(),
		Peers: map[string]string{"catalog": url, "payments": url, "cart": url}},
		Config{Currency: "USD", PaymentWindow: time.Hour, SweepInterval: time.Second})
	return s, p
}

// paidOrder writes a paid order, as the payment event leaves it.
func paidOrder(t *testing.T, s *Service) *Order {
	t.Helper()
	ctx := context.Background()
	now := s.clock()
	o := reservedOrder(now)
	if err := o.Place("pay-1", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkPaid(now); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Tx(ctx, func(tx *sqldb.Tx) error { return insertOrder(ctx, tx, o) }); err != nil {
		t.Fatal(err)
	}
	return o
}

// reservedOrder is order-1 of one line, its stock held and its payment due,
// as a checkout's driver has it before placing it.
func reservedOrder(now time.Time) *Order {
	return &Order{id: "order-1", number: "EMP-1", customerID: "c1", status: statusCheckout,
		step: stepReserved, idempotencyKey: "k", history: []StatusChange{}, createdAt: now,
		updatedAt: now, leaseUntil: now.Add(time.Minute),
		lines: []Line{{ProductID: "p1", SKU: "S", Name: "N", UnitPrice: Money{Amount: 100, Currency: "USD"},
			Quantity: 1, LineTotal: Money{Amount: 100, Currency: "USD"}}},
		subtotal: Money{Amount: 100, Currency: "USD"}, shipping: Money{Currency: "USD"},
		total: Money{Amount: 100, Currency: "USD"}}
}

// recorded lists the effects recorded, as "kind key".
func recorded(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT kind, key FROM effects ORDER BY kind, key")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, key string
		if err := rows.Scan(&kind, &key); err != nil {
			t.Fatal(err)
		}
		out = append(out, kind+" "+key)
	}
	return out
}

func stockPayload(t *testing.T, o *Order) effect.Effect {
	b, err := json.Marshal(stockEffect{OrderID: o.id, ReservationID: o.reservationID()})
	if err != nil {
		t.Fatal(err)
	}
	return effect.Effect{Payload: b}
}

// A paid order whose hold ran out before the commit cannot be filled: it is
// cancelled, announced as refunded, and its payment refunded.
func TestCommitOfALapsedHoldRefunds(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		s, p := effectsService(t, db)
		o := paidOrder(t, s)
		p.answer("POST", "/internal/reservations/order-1/commit", answer{status: 409, code: "reservation_expired"})
		if err := s.commitStock(context.Background(), stockPayload(t, o)); err != nil {
			t.Fatal(err)
		}
		got, err := orderByID(context.Background(), db, o.id)
		if err != nil {
			t.Fatal(err)
		}
		last := got.history[len(got.history)-1]
		if got.status != StatusCancelled || last.Reason != ReasonStockLapsed {
			t.Errorf("order %s, last change %+v", got.status, last)
		}
		if want := []string{"payments.refund pay-1"}; !slices.Equal(recorded(t, db), want) {
			t.Errorf("effects %v, want %v", recorded(t, db), want)
		}
		var payload string
		if err := db.QueryRowContext(context.Background(), `SELECT payload FROM outbox
			WHERE subject = 'orders.order.cancelled'`).Scan(&payload); err != nil {
			t.Fatalf("no orders.order.cancelled in the outbox: %v", err)
		}
		var env struct {
			Data struct {
				Refunded bool   `json:"refunded"`
				Reason   string `json:"reason"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(payload), &env); err != nil || !env.Data.Refunded ||
			env.Data.Reason != ReasonStockLapsed {
			t.Errorf("cancelled event %s (%v)", payload, err)
		}
		// Committing again (the effect retried) changes nothing more.
		if err := s.commitStock(context.Background(), stockPayload(t, o)); err != nil {
			t.Fatal(err)
		}
	})
}

// A paid order cancelled before its hold was committed gets the hold
// released instead of a restock; a restocked or released one is done.
func TestRestockOfAHoldNotYetCommitted(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		s, p := effectsService(t, db)
		o := paidOrder(t, s)
		p.answer("POST", "/internal/reservations/order-1/restock", answer{status: 409, code: "invalid_transition"})
		p.answer("GET", "/internal/reservations/order-1", answer{status: 200,
			body: map[string]any{"reservation_id": "order-1", "status": "held"}})
		p.answer("POST", "/internal/reservations/order-1/release", answer{status: 200,
			body: map[string]any{"reservation_id": "order-1", "status": "released"}})
		if err := s.restockStock(context.Background(), stockPayload(t, o)); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(p.called(), "POST /internal/reservations/order-1/release") {
			t.Errorf("calls %v: the hold was not released", p.called())
		}
		p.answer("GET", "/internal/reservations/order-1", answer{status: 200,
			body: map[string]any{"reservation_id": "order-1", "status": "restocked"}})
		if err := s.restockStock(context.Background(), stockPayload(t, o)); err != nil {
			t.Errorf("a restocked reservation: %v", err)
		}
	})
}

// A payment that cannot be cancelled because it succeeded is refunded; a
// hold the catalog never made needs no release.
func TestCancelOfASucceededPaymentRefunds(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		s, p := effectsService(t, db)
		p.answer("POST", "/internal/payments/pay-1/cancel", answer{status: 409, code: "invalid_transition"})
		b, _ := json.Marshal(paymentEffect{PaymentID: "pay-1", OrderID: "order-1"})
		if err := s.cancelPayment(context.Background(), effect.Effect{Payload: b}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"payments.refund pay-1"}; !slices.Equal(recorded(t, db), want) {
			t.Errorf("effects %v, want %v", recorded(t, db), want)
		}
		b, _ = json.Marshal(stockEffect{OrderID: "order-2", ReservationID: "order-2"})
		if err := s.releaseStock(context.Background(), effect.Effect{Payload: b}); err != nil {
			t.Errorf("releasing a hold never made: %v", err)
		}
	})
}
