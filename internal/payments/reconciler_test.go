package payments

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"

	"emporium/internal/event"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/sqldb"
)

// spy wraps a provider and records what the service asked of it.
type spy struct {
	Provider
	mu          sync.Mutex
	confirmKeys []string
	retrieves   int
	// afterConfirm runs once the provider answered a confirm, before the
	// service sees the answer.
	afterConfirm func()
}

func (s *spy) Confirm(ctx context.Context, intentID, method, key string) (Intent, error) {
	s.mu.Lock()
	s.confirmKeys = append(s.confirmKeys, key)
	after := s.afterConfirm
	s.mu.Unlock()
	in, err := s.Provider.Confirm(ctx, intentID, method, key)
	if after != nil {
		after()
	}
	return in, err
}

func (s *spy) Retrieve(ctx context.Context, intentID string) (Intent, error) {
	s.mu.Lock()
	s.retrieves++
	s.mu.Unlock()
	return s.Provider.Retrieve(ctx, intentID)
}

// TestReconcilerFinishesLostWebhook: a payment left processing whose
// webhook never came is finished by the reconciler asking the provider —
// succeeded, announced once.
func TestReconcilerFinishesLostWebhook(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, func(c *Config) {
			c.ReconcileInterval, c.ReconcileAfter = 20*time.Millisecond, 100*time.Millisecond
			c.sandbox = func(sb *sandbox) {
				sb.settleLater = true
				sb.drop = func(ev stripe.Event) bool { return ev.Type == "payment_intent.succeeded" }
			}
		})
		p := e.create(3000)
		r := e.confirm(p.ID, "pm_card_visa")
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.Status != Processing {
			t.Fatalf("confirm answered %s, want processing", v.Status)
		}
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusConflict, "invalid_transition")
		// The provider decides; its webhook is lost.
		if err := e.sandbox.settleProcessing(t.Context()); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the reconciler finishes the payment", func() bool {
			return e.payment(p.ID).Status == Succeeded
		})
		if n := len(e.events(event.PaymentSucceeded, p.ID)); n != 1 {
			t.Errorf("%d succeeded events, want 1", n)
		}
		if n := e.count(`SELECT COUNT(*) FROM payment_ledger WHERE payment_id = $1 AND action = 'retrieve'
			AND outcome = 'succeeded'`, p.ID); n != 1 {
			t.Errorf("%d ledger rows of the retrieve that found the success, want 1", n)
		}
		if e.count("SELECT COUNT(*) FROM payments WHERE id = $1 AND check_at IS NULL", p.ID) != 1 {
			t.Error("a settled payment is still due for a check")
		}
	})
}

// TestReconcilerReplicas: two replicas reconciling the same due payments at
// once ask the provider about each payment once.
func TestReconcilerReplicas(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clock := time.Now()
		var spies []*spy
		e := start(t, dbURL, func(c *Config) {
			c.sandbox = func(sb *sandbox) { sb.settleLater = true }
			c.wrap = func(p Provider) Provider { s := &spy{Provider: p}; spies = append(spies, s); return s }
		})
		const n = 8
		for range n {
			p := e.create(500)
			expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusOK, "")
		}
		// Two more replicas, whose clocks are past every check.
		later := func() time.Time { return clock.Add(time.Hour) }
		replicas := make([]*Service, 2)
		for i := range replicas {
			db, err := sqldb.Open(t.Context(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			cfg := testConfig()
			cfg.now = later
			cfg.sandbox = func(sb *sandbox) { sb.settleLater = true }
			s := &spy{}
			cfg.wrap = func(p Provider) Provider { s.Provider = p; return s }
			spies = append(spies, s)
			replicas[i] = New(db, cfg, nil)
		}
		var wg sync.WaitGroup
		looked := make([]int, len(replicas))
		for i, r := range replicas {
			wg.Go(func() {
				var err error
				if looked[i], err = r.Reconcile(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		retrieves := 0
		for _, s := range spies {
			retrieves += s.retrieves
		}
		if looked[0]+looked[1] != n || retrieves != n {
			t.Errorf("replicas looked at %v payments and asked %d times, want %d in all", looked, retrieves, n)
		}
	})
}

// TestCrashAfterProviderAnswer: the process stops after the provider
// charged and before the answer is committed (and the webhook is lost);
// the customer's retry, on a new process, sends the same idempotency key,
// and the provider charges once.
func TestCrashAfterProviderAnswer(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		s := &spy{}
		var crash atomic.Bool
		crash.Store(true)
		cfg := func(c *Config) {
			c.sandbox = func(sb *sandbox) {
				sb.drop = func(stripe.Event) bool { return crash.Load() }
			}
			c.wrap = func(p Provider) Provider { s.Provider = p; return s }
		}
		nats := apptest.NATS(t)
		first := startOn(t, dbURL, nats, authtest.NewIssuer(t), cfg)
		p := first.create(2000)
		s.afterConfirm = func() {
			if crash.Load() {
				panic("the process dies here") // nothing after the provider's answer runs
			}
		}
		r := first.confirm(p.ID, "pm_card_visa")
		expect(t, r, http.StatusInternalServerError, "internal")
		if got := first.payment(p.ID); got.Status != RequiresPaymentMethod || got.PendingMethod != "pm_card_visa" {
			t.Fatalf("after the crash: %s, pending %q", got.Status, got.PendingMethod)
		}
		first.stop()

		crash.Store(false)
		second := startOn(t, dbURL, nats, first.issuer, cfg)
		r = second.confirm(p.ID, "pm_card_visa")
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.Status != Succeeded {
			t.Errorf("the retry answered %s, want succeeded", v.Status)
		}
		if len(s.confirmKeys) != 2 || s.confirmKeys[0] != s.confirmKeys[1] {
			t.Errorf("confirm keys %q, want one key sent twice", s.confirmKeys)
		}
		if n := second.count("SELECT COUNT(*) FROM sandbox_requests WHERE request LIKE 'confirm %'"); n != 1 {
			t.Errorf("the provider performed %d confirms, want 1", n)
		}
		pi, err := sandboxIntentByID(t.Context(), second.db, second.payment(p.ID).IntentID)
		if err != nil || pi.AmountReceived != 2000 {
			t.Errorf("the provider received %+v (%v), want 2000 once", pi, err)
		}
		if n := len(second.events(event.PaymentSucceeded, p.ID)); n != 1 {
			t.Errorf("%d succeeded events, want 1", n)
		}
	})
}

// TestConcurrentConfirms: a customer's confirm sent five times at once (a
// double click, a retrying client) charges once: each answer is the
// succeeded payment or 409 invalid_transition, the provider performs one
// confirm, and the success is announced once.
func TestConcurrentConfirms(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(6000)
		var wg sync.WaitGroup
		statuses := make([]int, 5)
		for i := range statuses {
			wg.Go(func() {
				r := e.confirm(p.ID, "pm_card_visa")
				statuses[i] = r.Status
				if r.Status == http.StatusOK && decode(t, r).Status != Succeeded {
					t.Errorf("a confirm answered %s", r.Body)
				}
			})
		}
		wg.Wait()
		for _, s := range statuses {
			if s != http.StatusOK && s != http.StatusConflict {
				t.Errorf("statuses %v, want 200 or 409 each", statuses)
				break
			}
		}
		if n := e.count("SELECT COUNT(*) FROM sandbox_requests WHERE request LIKE 'confirm %'"); n != 1 {
			t.Errorf("the provider performed %d confirms, want 1", n)
		}
		if n := len(e.events(event.PaymentSucceeded, p.ID)); n != 1 {
			t.Errorf("%d succeeded events, want 1", n)
		}
		if got := e.payment(p.ID); got.Status != Succeeded || got.PendingMethod != "" {
			t.Errorf("payment %s, pending %q", got.Status, got.PendingMethod)
		}
	})
}
