package catalog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// oversellStock is each product's starting stock in the oversell tests.
const oversellStock = 10

// storm is a burst of concurrent reservations over a few products, spread
// over one or more replicas, and what came of it.
type storm struct {
	t        *testing.T
	replicas []*env
	products []*Product
	adjusted map[string]int64 // successful stock adjustments by product
	held     map[string][]Line
	rng      *rand.Rand
	seq      int
}

func newStorm(t *testing.T, replicas []*env, seed uint64) *storm {
	s := &storm{t: t, replicas: replicas, adjusted: map[string]int64{}, held: map[string][]Line{},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	t.Logf("seed %d", seed)
	for _, sku := range []string{"A", "B", "C"} {
		s.products = append(s.products, replicas[0].createProduct("OVERSELL-"+sku, 1000, oversellStock))
	}
	return s
}

// request is a random reservation: one to three of the products, in random
// order, 1 to 3 units each.
func (s *storm) request() (string, []Line) {
	s.seq++
	ps := make([]*Product, len(s.products))
	copy(ps, s.products)
	s.rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	lines := make([]Line, 1+s.rng.IntN(3))
	for i := range lines {
		lines[i] = Line{ProductID: ps[i].ID, Quantity: int64(1 + s.rng.IntN(3))}
	}
	return fmt.Sprintf("storm-%04d", s.seq), lines
}

// run sends n random reservations at once, spread over the replicas, and
// records the ones that were held. Every answer must be 201 or 409
// insufficient_stock naming only short lines of the request.
func (s *storm) run(n int, alongside ...func(e *env) error) {
	t := s.t
	t.Helper()
	type attempt struct {
		id    string
		lines []Line
		r     response
		err   error
	}
	attempts := make([]*attempt, n)
	for i := range attempts {
		id, lines := s.request()
		attempts[i] = &attempt{id: id, lines: lines}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, a := range attempts {
		e := s.replicas[i%len(s.replicas)]
		wg.Go(func() {
			<-start
			a.r, a.err = e.tryCall("POST", "/internal/reservations", reserveBody(a.id, 600, a.lines...))
		})
	}
	extra := make([]error, len(alongside))
	for i, f := range alongside {
		e := s.replicas[i%len(s.replicas)]
		wg.Go(func() {
			<-start
			extra[i] = f(e)
		})
	}
	close(start)
	waitOrFail(t, &wg, time.Minute, "the concurrent reservations finish (deadlock?)")
	for _, err := range extra {
		if err != nil {
			t.Error(err)
		}
	}
	for _, a := range attempts {
		if a.err != nil {
			t.Fatal(a.err)
		}
		switch a.r.status {
		case http.StatusCreated:
			var res Reservation
			a.r.json(t, &res)
			if res.Status != Held || len(res.Items) != len(a.lines) {
				t.Errorf("%s: answered %s for %v", a.id, a.r.body, a.lines)
			}
			s.held[a.id] = a.lines
		case http.StatusConflict:
			if code, _ := a.r.problem(t); code != "insufficient_stock" {
				t.Errorf("%s: %s", a.id, a.r.body)
				continue
			}
			short := shortLines(t, a.r)
			if len(short) == 0 {
				t.Errorf("%s: no short lines in %s", a.id, a.r.body)
			}
			for _, l := range a.lines {
				if sl, ok := short[l.ProductID]; ok && (sl.Requested != l.Quantity || sl.Available >= l.Quantity ||
					sl.Available < 0) {
					t.Errorf("%s: short line %+v for a request of %d", a.id, sl, l.Quantity)
				}
				delete(short, l.ProductID)
			}
			if len(short) > 0 {
				t.Errorf("%s: short lines %v name products it did not ask for", a.id, short)
			}
		default:
			t.Errorf("%s: status %d: %s", a.id, a.r.status, a.r.body)
		}
	}
}

// check verifies the stock of every product against what the test knows:
// the holds it got, the commits it made, the adjustments that succeeded, and
// the ledger.
func (s *storm) check(when string, committed map[string]int64) {
	t := s.t
	t.Helper()
	e := s.replicas[len(s.replicas)-1]
	heldByProduct := map[string]int64{}
	for _, lines := range s.held {
		for _, l := range lines {
			heldByProduct[l.ProductID] += l.Quantity
		}
	}
	for _, p := range s.products {
		start := oversellStock + s.adjusted[p.ID]
		inv := e.inventory(p.ID)
		if inv.Reserved != heldByProduct[p.ID] {
			t.Errorf("%s: %s reserved %d, but the holds add up to %d", when, p.SKU, inv.Reserved,
				heldByProduct[p.ID])
		}
		if inv.Available < 0 || inv.Available != inv.OnHand-inv.Reserved {
			t.Errorf("%s: %s inventory %+v", when, p.SKU, inv)
		}
		if inv.OnHand != start-committed[p.ID] {
			t.Errorf("%s: %s on hand %d, want %d - %d committed", when, p.SKU, inv.OnHand, start,
				committed[p.ID])
		}
		if got := committed[p.ID] + inv.Reserved + inv.Available; got != start {
			t.Errorf("%s: %s committed + reserved + available = %d, want %d", when, p.SKU, got, start)
		}
		var onHand, reserved, sold int64
		for _, l := range e.stockLedger(p.ID) {
			onHand += l.OnHandDelta
			reserved += l.ReservedDelta
			if l.Reason == "committed" {
				sold -= l.OnHandDelta
			}
		}
		if onHand != inv.OnHand || reserved != inv.Reserved || sold != committed[p.ID] {
			t.Errorf("%s: %s ledger adds up to on hand %d, reserved %d, sold %d; inventory %+v, "+
				"committed %d", when, p.SKU, onHand, reserved, sold, inv, committed[p.ID])
		}
	}
}

// waitOrFail waits for wg, failing the test if that takes longer than d.
func waitOrFail(t testing.TB, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// testNoOversell is the no-oversell proof on the replicas given: a storm of
// reservations, then adjustments, then commits and releases of the holds
// racing a second storm, checking the stock after each phase.
func testNoOversell(t *testing.T, replicas []*env) {
	s := newStorm(t, replicas, uint64(time.Now().UnixNano()))
	s.run(100)
	heldByProduct := map[string]int64{}
	for _, lines := range s.held {
		for _, l := range lines {
			heldByProduct[l.ProductID] += l.Quantity
		}
	}
	for _, p := range s.products {
		if heldByProduct[p.ID] > oversellStock {
			t.Errorf("%s: %d units held of %d", p.SKU, heldByProduct[p.ID], oversellStock)
		}
	}
	t.Logf("the storm held %d reservations: %v", len(s.held), heldByProduct)
	s.check("after the storm", nil)

	// Adjustments: one that adds, one that takes what is left, one that
	// would take more than is not reserved.
	e := replicas[0]
	a, b, c := s.products[0], s.products[1], s.products[2]
	e.adjust(a.ID, 5)
	s.adjusted[a.ID] += 5
	if avail := e.inventory(b.ID).Available; avail > 0 {
		e.adjust(b.ID, -avail)
		s.adjusted[b.ID] -= avail
	}
	inv := e.inventory(c.ID)
	r := e.do("POST", "/api/v1/products/"+c.ID+"/inventory/adjustments", e.adminToken(),
		map[string]any{"delta": -(inv.Available + 1), "reason": "too much"})
	expect(t, r, http.StatusConflict, "insufficient_stock")
	s.check("after the adjustments", nil)

	// Commit every other hold and release the rest, while more reservations
	// compete for what the releases free.
	committed := map[string]int64{}
	var commits, releases []string
	i := 0
	for id, lines := range s.held {
		if i++; i%2 == 0 {
			commits = append(commits, id)
			for _, l := range lines {
				committed[l.ProductID] += l.Quantity
			}
		} else {
			releases = append(releases, id)
		}
	}
	transition := func(ids []string, verb string) func(*env) error {
		return func(e *env) error {
			for _, id := range ids {
				r, err := e.tryCall("POST", "/internal/reservations/"+id+"/"+verb, nil)
				if err != nil {
					return err
				}
				if r.status != http.StatusOK {
					return fmt.Errorf("%s %s: %d %s", verb, id, r.status, r.body)
				}
			}
			return nil
		}
	}
	before := len(s.held)
	for _, id := range append(commits, releases...) {
		delete(s.held, id)
	}
	s.run(50, transition(commits, "commit"), transition(releases, "release"))
	t.Logf("committed %d, released %d, and the second storm held %d", len(commits), len(releases),
		len(s.held))
	if before > 0 && len(commits)+len(releases) != before {
		t.Fatalf("lost track of holds")
	}
	s.check("after the commits and releases", committed)
}

func TestNoOversell(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		testNoOversell(t, []*env{start(t, dbURL, nil)})
	})
}

// replicas starts n catalog instances on one PostgreSQL database, one NATS
// server and one token issuer. It skips the test without PostgreSQL.
func replicas(t *testing.T, n int, edit func(*Config)) []*env {
	t.Helper()
	sqldbtest.NeedPostgres(t) // replicas share a PostgreSQL database
	dbURL := sqldbtest.PostgresDatabase(t, outbox.Schema, inbox.Schema, Schema)
	natsURL, iss := newNATS(t), authtest.NewIssuer(t)
	out := make([]*env, n)
	for i := range out {
		out[i] = startOn(t, dbURL, natsURL, iss, edit)
	}
	return out
}

func TestNoOversellTwoReplicas(t *testing.T) {
	t.Parallel()
	testNoOversell(t, replicas(t, 2, nil))
}

// TestSweeperOnTwoReplicas: both replicas sweep the same expired holds at
// once; each is released once, with one "expired" ledger row per line.
func TestSweeperOnTwoReplicas(t *testing.T) {
	t.Parallel()
	clk := newManualClock()
	rs := replicas(t, 2, func(c *Config) { c.now = clk.Now; c.SweepInterval = 20 * time.Millisecond })
	a := rs[0].createProduct("SWEEP-A", 1000, 1000)
	b := rs[0].createProduct("SWEEP-B", 1000, 1000)
	const n = 60
	for i := range n {
		e := rs[i%2]
		expect(t, e.call("POST", "/internal/reservations", reserveBody(fmt.Sprintf("sweep-%02d", i), 60,
			Line{a.ID, int64(1 + i%4)}, Line{b.ID, 1})), http.StatusCreated, "")
	}
	clk.Advance(61 * time.Second)
	eventually(t, 20*time.Second, "both sweepers release every hold", func() bool {
		var held int
		err := rs[0].svc.db.QueryRowContext(context.Background(),
			"SELECT count(*) FROM reservations WHERE status = 'held'").Scan(&held)
		if err != nil {
			t.Fatal(err)
		}
		return held == 0
	})
	for _, p := range []*Product{a, b} {
		ledger := rs[1].stockLedger(p.ID)
		for i := range n {
			id := fmt.Sprintf("sweep-%02d", i)
			if got := countReason(ledger, "expired", id); got != 1 {
				t.Errorf("%s: %d expired rows for %s, want 1", p.SKU, got, id)
			}
			if got := countReason(ledger, "released", id); got != 0 {
				t.Errorf("%s: %d released rows for %s, want 0", p.SKU, got, id)
			}
		}
		for _, e := range rs {
			if got, want := e.inventory(p.ID), (Inventory{ProductID: p.ID, OnHand: 1000,
				Available: 1000}); got != want {
				t.Errorf("inventory %+v, want %+v", got, want)
			}
		}
	}
}
