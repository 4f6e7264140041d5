package chaos

import (
	"strings"
	"testing"
)

// shop is a consistent snapshot: order A paid (2 of p1), order B cancelled
// after it was paid (refunded, restocked), order C cancelled unpaid
// (released), order D pending with a held reservation of p2 — until the
// test finishes it.
func shop() (Snapshot, map[string][]string) {
	s := Snapshot{
		Stock: map[string]Stock{
			"p1": {OnHand: 8, Reserved: 0, LedgerOnHand: 8, LedgerReserved: 0},
			"p2": {OnHand: 5, Reserved: 0, LedgerOnHand: 5, LedgerReserved: 0},
		},
		Reservations: map[string]Reservation{
			"A": {Status: "committed", Lines: map[string]int64{"p1": 2}},
			"B": {Status: "restocked", Lines: map[string]int64{"p2": 1}},
			"C": {Status: "released", Lines: map[string]int64{"p1": 1}},
		},
		Orders: map[string]Order{
			"A": {Customer: "u1", Key: "k1", Status: "paid", Total: 3000, WasPaid: true, Lines: map[string]int64{"p1": 2}},
			"B": {Customer: "u1", Key: "k2", Status: "cancelled", Total: 2000, WasPaid: true, Lines: map[string]int64{"p2": 1}},
			"C": {Customer: "u2", Key: "k1", Status: "cancelled", Total: 1500, Lines: map[string]int64{"p1": 1}},
		},
		Charges: map[string][]Charge{
			"A": {{IntentID: "pi_A", Received: 3000}},
			"B": {{IntentID: "pi_B", Received: 2000, Refunded: 2000}},
			"C": {{IntentID: "pi_C"}},
		},
		PaidEvents: map[string][]string{"A": {"eA"}, "B": {"eB"}},
		Notified:   map[string]int{"eA": 1, "eB": 1},
	}
	placed := map[string][]string{"u1 k1": {"A"}, "u1 k2": {"B"}, "u2 k1": {"C"}}
	return s, placed
}

func TestCheckPassesAConsistentShop(t *testing.T) {
	s, placed := shop()
	if v := Check(s, placed); len(v) != 0 {
		t.Fatalf("violations in a consistent shop: %v", v)
	}
}

// TestCheckCatchesEachViolation breaks one invariant at a time and expects
// the checker to name it with the entity involved.
func TestCheckCatchesEachViolation(t *testing.T) {
	for _, c := range []struct {
		name      string
		break_    func(s *Snapshot, placed map[string][]string)
		invariant string
		entity    string
	}{
		{"reserved past on hand", func(s *Snapshot, _ map[string][]string) {
			s.Stock["p1"] = Stock{OnHand: 1, Reserved: 3, LedgerOnHand: 1, LedgerReserved: 3, Held: 3}
		}, NoOversell, "product p1"},
		{"stock that is not its ledger", func(s *Snapshot, _ map[string][]string) {
			st := s.Stock["p2"]
			st.OnHand++
			s.Stock["p2"] = st
		}, NoOversell, "product p2"},
		{"a paid order whose reservation was not committed (the reservation skipped)", func(s *Snapshot, _ map[string][]string) {
			delete(s.Reservations, "A")
		}, NoOversell, "order A"},
		{"a committed reservation of more units than the order", func(s *Snapshot, _ map[string][]string) {
			s.Reservations["A"] = Reservation{Status: "committed", Lines: map[string]int64{"p1": 3}}
		}, NoOversell, "product p1"},
		{"a cancelled order's stock still held", func(s *Snapshot, _ map[string][]string) {
			s.Reservations["C"] = Reservation{Status: "held", Lines: map[string]int64{"p1": 1}}
		}, NoLostOrder, "order C"},
		{"a second capture", func(s *Snapshot, _ map[string][]string) {
			s.Charges["A"] = append(s.Charges["A"], Charge{IntentID: "pi_A2", Received: 3000, Refunded: 3000})
		}, NoDoubleCharge, "order A"},
		{"a refund past the capture", func(s *Snapshot, _ map[string][]string) {
			s.Charges["B"][0].Refunded = 2500
		}, NoDoubleCharge, "intent pi_B"},
		{"a cancelled order not refunded", func(s *Snapshot, _ map[string][]string) {
			s.Charges["B"][0].Refunded = 0
		}, MoneyConserved, "order B"},
		{"a paid order not charged", func(s *Snapshot, _ map[string][]string) {
			s.Charges["A"][0].Received = 0
		}, MoneyConserved, "the shop"},
		{"an order left pending", func(s *Snapshot, _ map[string][]string) {
			o := s.Orders["C"]
			o.Status = "pending_payment"
			s.Orders["C"] = o
		}, NoLostOrder, "order C"},
		{"an order answered 201 that does not exist", func(s *Snapshot, placed map[string][]string) {
			placed["u3 k9"] = []string{"Z"}
		}, NoLostOrder, "order Z"},
		{"two orders for one key", func(s *Snapshot, _ map[string][]string) {
			s.Orders["E"] = Order{Customer: "u1", Key: "k1", Status: "cancelled", Lines: map[string]int64{}}
		}, Idempotency, "u1 k1"},
		{"one key answered with two orders", func(s *Snapshot, placed map[string][]string) {
			placed["u1 k1"] = append(placed["u1 k1"], "B")
		}, Idempotency, "u1 k1"},
		{"a paid order without its confirmation", func(s *Snapshot, _ map[string][]string) {
			delete(s.Notified, "eA")
		}, NoLostEvent, "order A"},
		{"a paid order confirmed twice", func(s *Snapshot, _ map[string][]string) {
			s.PaidEvents["B"] = append(s.PaidEvents["B"], "eB2")
			s.Notified["eB2"] = 1
		}, NoLostEvent, "order B"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, placed := shop()
			c.break_(&s, placed)
			got := Check(s, placed)
			for _, v := range got {
				if v.Invariant == c.invariant && strings.Contains(v.Entities, c.entity) {
					return
				}
			}
			t.Errorf("violations %v; want %s naming %s", got, c.invariant, c.entity)
		})
	}
}
