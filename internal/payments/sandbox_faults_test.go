package payments

import (
	"net/http"
	"testing"
	"time"

	"emporium/internal/event"
)

func TestParseSandboxFaults(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SandboxFaults
		ok   bool
	}{
		{"", SandboxFaults{}, true},
		{"timeout=0.1,fail=0.05", SandboxFaults{Timeout: 0.1, Fail: 0.05}, true},
		{" drop=1 , fail=0 ", SandboxFaults{Drop: 1}, true},
		{"fail=1.5", SandboxFaults{}, false},
		{"fail=-0.1", SandboxFaults{}, false},
		{"slow=0.1", SandboxFaults{}, false},
		{"fail", SandboxFaults{}, false},
		{"fail=often", SandboxFaults{}, false},
	} {
		got, err := ParseSandboxFaults(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseSandboxFaults(%q) = %+v, %v; want %+v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	cfg := testConfig()
	cfg.SandboxFaults = "fail=2"
	if cfg.Validate() == nil {
		t.Error("Validate takes PAYMENTS_SANDBOX_FAULTS=fail=2")
	}
}

// TestSandboxFaults: a call that always fails changes nothing; a call
// whose answer is always lost was carried out — the customer's retry finds
// the payment succeeded, charged once; with every event dropped too, the
// reconciler finishes it.
func TestSandboxFaults(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, func(c *Config) {
			c.ReconcileInterval, c.ReconcileAfter = 20*time.Millisecond, 100*time.Millisecond
		})
		p := e.create(3000)

		e.sandbox.faults = SandboxFaults{Fail: 1}
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusServiceUnavailable, "unavailable")
		if n := e.count("SELECT COUNT(*) FROM sandbox_intents WHERE id = $1 AND status = 'succeeded'",
			e.payment(p.ID).IntentID); n != 0 {
			t.Fatal("a call that failed before the provider charged")
		}

		e.sandbox.faults = SandboxFaults{Timeout: 1, Drop: 1}
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusServiceUnavailable, "unavailable")
		eventually(t, 10*time.Second, "the reconciler finishes the payment", func() bool {
			return e.payment(p.ID).Status == Succeeded
		})
		e.sandbox.faults = SandboxFaults{}
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusConflict, "invalid_transition")
		if n := len(e.events(event.PaymentSucceeded, p.ID)); n != 1 {
			t.Errorf("%d succeeded events, want 1", n)
		}
		if n := e.count("SELECT COUNT(*) FROM sandbox_intents WHERE status = 'succeeded'"); n != 1 {
			t.Errorf("%d succeeded PaymentIntents, want 1", n)
		}
	})
}
