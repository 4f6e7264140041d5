//go:build chaos

package chaos

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCheckerCatchesTampering runs a small cluster without faults, checks
// that the checker finds nothing, then breaks each invariant in the
// services' real databases — a second capture, reserved past on hand, a
// paid order's reservation skipped, a confirmation lost, two orders for
// one key, an order left unfinished — and expects the checker to report
// each with the entity involved. make chaos runs it (build tag chaos).
func TestCheckerCatchesTampering(t *testing.T) {
	pg := os.Getenv("EMPORIUM_TEST_POSTGRES_URL")
	if pg == "" {
		t.Fatal("EMPORIUM_TEST_POSTGRES_URL is not set: the chaos suite needs PostgreSQL")
	}
	ctx := t.Context()
	// Kept when the test fails, for its logs.
	dir, err := os.MkdirTemp("", "chaos-tamper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs in %s/logs", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	c, err := StartCluster(ctx, ClusterConfig{Dir: dir, Root: "../../../..", Bin: os.Getenv("EMPORIUM_CHAOS_BIN"),
		PostgresURL: pg, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			c.Stop(context.Background())
		}
		if err := c.DropDatabases(context.Background()); err != nil {
			t.Error(err)
		}
	})
	h := &History{}
	w := &Workload{Base: c.URL(), Customers: 3, Seed: 1, History: h, AdminEmail: c.AdminEmail,
		AdminPassword: c.AdminPassword}
	stop, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := w.Run(stop, ctx); err != nil {
		t.Fatal(err)
	}
	violations, err := settle(ctx, c, h, 60*time.Second, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 {
		t.Fatalf("a run without faults: %v", violations)
	}
	stopped = true
	if err := c.Stop(ctx); err != nil {
		t.Logf("stop: %v", err)
	}
	snap, err := ReadSnapshot(ctx, c.Databases)
	if err != nil {
		t.Fatal(err)
	}
	var paid []string
	for _, id := range sorted(snap.Orders) {
		if o := snap.Orders[id]; o.WasPaid && o.Status != "cancelled" {
			paid = append(paid, id)
		}
	}
	if len(paid) < 4 {
		t.Fatalf("%d paid orders in the run, want 4 to tamper with", len(paid))
	}
	t.Logf("%d requests, %d orders, %d paid", len(h.Ops()), len(snap.Orders), len(paid))
	product := w.products[0]

	for _, tc := range []struct {
		name, service, sql string
		args               []any
		invariant, entity  string
	}{
		{"a payment captured twice", "payments", `INSERT INTO sandbox_intents
			(id, status, object, created_at, updated_at) VALUES ('pi_tampered', 'succeeded',
			json_build_object('amount_received', 100, 'amount_refunded', 0,
				'metadata', json_build_object('order_id', $1::text))::text, now(), now())`,
			[]any{paid[0]}, NoDoubleCharge, "order " + paid[0]},
		{"reserved past on hand", "catalog", `UPDATE inventory SET reserved = on_hand + 1 WHERE product_id = $1`,
			[]any{product}, NoOversell, "product " + product},
		{"a paid order's reservation skipped", "catalog", `UPDATE reservations SET status = 'released'
			WHERE id = $1`, []any{paid[1]}, NoOversell, "order " + paid[1]},
		{"a confirmation lost", "notifications", `DELETE FROM deliveries WHERE event_id IN (
			SELECT unnest($1::text[])) AND channel = 'email'`, []any{snap.PaidEvents[paid[2]]},
			NoLostEvent, "order " + paid[2]},
		{"two orders for one key", "orders", `INSERT INTO orders (id, number, customer_id, status, step,
			idempotency_key, currency, subtotal, shipping, total, shipping_address, lease_until, created_at,
			updated_at) SELECT 'tampered', number || '-2', customer_id, 'cancelled', step, idempotency_key,
			currency, subtotal, shipping, total, shipping_address, lease_until, created_at, updated_at
			FROM orders WHERE id = $1`, []any{paid[3]}, Idempotency,
			snap.Orders[paid[3]].Customer + " " + snap.Orders[paid[3]].Key},
		{"an order left unfinished", "orders", `UPDATE orders SET status = 'pending_payment' WHERE id = $1`,
			[]any{paid[3]}, NoLostOrder, "order " + paid[3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tamper(t, c.Databases[tc.service], tc.sql, tc.args...)
			snap, err := ReadSnapshot(ctx, c.Databases)
			if err != nil {
				t.Fatal(err)
			}
			got := Check(snap, h.Placed())
			if !slices.ContainsFunc(got, func(v Violation) bool {
				return v.Invariant == tc.invariant && strings.Contains(v.Entities, tc.entity)
			}) {
				t.Errorf("violations %v\nwant %s naming %s", got, tc.invariant, tc.entity)
			}
		})
	}
}

func tamper(t *testing.T, dbURL, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// The tables' own checks would refuse some of the tampering.
	if _, err := conn.Exec(t.Context(), "ALTER TABLE inventory DROP CONSTRAINT IF EXISTS inventory_check"); err != nil &&
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
