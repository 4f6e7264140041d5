package orders

import (
	"context"
	"testing"
	"time"

	"emporium/internal/platform/sqldb"
)

// A wait for an order sees a change this process did not make — another
// replica's, written straight to the database and waking no one here — at
// its next look, and a change of its own at once; it ends without a change
// after its time.
func TestWaitOrderSeesChanges(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := effectsService(t, db)
		o := checkoutOrder(t, s)
		p := &Payment{ID: "pay-1", OrderID: o.id, Provider: "sandbox", Status: "requires_payment_method",
			Amount: o.total}
		if _, err := s.place(ctx, o, p); err != nil {
			t.Fatal(err)
		}
		alice := Viewer{UserID: o.customerID}
		first, err := s.orderAnswer(ctx, alice, o.id)
		if err != nil {
			t.Fatal(err)
		}
		if _, changed, err := s.WaitOrder(ctx, alice, o.id, first.ETag, 0); changed || err != nil {
			t.Fatalf("a matching ETag without a wait: changed %v, %v; want 304", changed, err)
		}
		if _, changed, err := s.WaitOrder(ctx, alice, o.id, first.ETag, time.Second); changed || err != nil {
			t.Fatalf("nothing changed, after the wait: changed %v, %v; want 304", changed, err)
		}

		type result struct {
			a       renderedOrder
			changed bool
			err     error
		}
		waited := make(chan result, 1)
		start := time.Now()
		go func() {
			a, changed, err := s.WaitOrder(ctx, alice, o.id, first.ETag, 10*time.Second)
			waited <- result{a, changed, err}
		}()
		// Another replica marks it paid: updateOrder, not s.update, so no
		// watcher of this process hears of it.
		err = db.Tx(ctx, func(tx *sqldb.Tx) error {
			cur, err := orderByID(ctx, tx, o.id)
			if err != nil {
				return err
			}
			before := len(cur.history)
			if err := cur.MarkPaid(s.clock()); err != nil {
				return err
			}
			_, err = updateOrder(ctx, tx, cur, StatusPendingPayment, before)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r := <-waited
		// Seen at a look within the wait, not only by the read at its end.
		if waitedFor := time.Since(start); waitedFor >= 9*time.Second {
			t.Errorf("the change was seen after %s of a 10 s wait; want it at the next look (%s)",
				waitedFor, waitRecheck)
		}
		if r.err != nil || !r.changed || r.a.ETag == first.ETag {
			t.Fatalf("the wait ended with changed %v, ETag %s (was %s), %v; want the paid order",
				r.changed, r.a.ETag, first.ETag, r.err)
		}

		if _, _, err := s.WaitOrder(ctx, Viewer{UserID: "bob"}, o.id, r.a.ETag, time.Second); err == nil {
			t.Error("another customer waited for the order; want not found")
		}
	})
}
