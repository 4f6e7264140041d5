package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"emporium/internal/platform/sqldb"
)

// checkoutOrder writes an order whose stock is held and whose payment is
// due, with its key's record, as a checkout's driver leaves it before place.
func checkoutOrder(t *testing.T, s *Service) *Order {
	t.Helper()
	ctx := context.Background()
	now := s.clock()
	o := reservedOrder(now)
	rec := &keyRecord{customerID: o.customerID, key: o.idempotencyKey, requestHash: "h", orderID: o.id,
		createdAt: now, lockedUntil: o.leaseUntil}
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := insertKeyRecord(ctx, tx, rec); err != nil {
			return err
		}
		return insertOrder(ctx, tx, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// place writes the order it knows without reading it first; a driver whose
// copy went stale because another driver placed the order meanwhile gets the
// order as that one placed it, and nothing is written twice.
func TestPlaceOnceByEitherDriver(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := effectsService(t, db)
		o := checkoutOrder(t, s)
		stale := *o
		p := &Payment{ID: "pay-1", OrderID: o.id, Provider: "sandbox", Status: "requires_payment_method",
			Amount: o.total}

		first, err := s.place(ctx, o, p)
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.place(ctx, &stale, p)
		if err != nil {
			t.Fatalf("the second driver: %v", err)
		}
		for i, r := range []*Reply{first, second} {
			var got struct {
				Order struct {
					Status    string `json:"status"`
					PaymentID string `json:"payment_id"`
					History   []any  `json:"status_history"`
				} `json:"order"`
			}
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusCreated || got.Order.Status != StatusPendingPayment ||
				got.Order.PaymentID != "pay-1" || len(got.Order.History) != 1 {
				t.Errorf("reply %d: %d %s", i+1, r.Status, r.Body)
			}
		}

		stored, err := orderByID(ctx, db, o.id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.status != StatusPendingPayment || stored.step != stepPlaced || len(stored.history) != 1 {
			t.Errorf("stored: %s at %s with %d history entries, want pending_payment at placed with 1",
				stored.status, stored.step, len(stored.history))
		}
		var events int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE subject = $1",
			"orders.order.placed").Scan(&events); err != nil {
			t.Fatal(err)
		}
		if events != 1 {
			t.Errorf("%d orders.order.placed events, want 1", events)
		}
		rec, err := keyRecordByKey(ctx, db, o.customerID, o.idempotencyKey)
		if err != nil || rec == nil || rec.status != http.StatusCreated {
			t.Fatalf("key record %+v, %v; want the answer kept", rec, err)
		}
	})
}
