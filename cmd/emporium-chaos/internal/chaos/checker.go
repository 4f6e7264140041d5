package chaos

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Snapshot is the shop's state as the services' databases hold it, read
// once the faults have stopped.
type Snapshot struct {
	// Stock is catalog's inventory by product.
	Stock map[string]Stock
	// Reservations are catalog's, by id (an order's id).
	Reservations map[string]Reservation
	// Orders are orders', by id.
	Orders map[string]Order
	// Charges are the provider's PaymentIntents (the sandbox's), by order.
	Charges map[string][]Charge
	// PaidEvents are the ids of the orders.order.paid events orders wrote,
	// by order.
	PaidEvents map[string][]string
	// Notified counts notifications' email deliveries by event id.
	Notified map[string]int
}

// Stock is one product's inventory row, what its ledger adds up to, and
// the units of its held reservations.
type Stock struct {
	OnHand, Reserved             int64
	LedgerOnHand, LedgerReserved int64
	Held                         int64
}

// Reservation is a catalog reservation: status and units by product.
type Reservation struct {
	Status string
	Lines  map[string]int64
}

// Order is an order: its customer and key, status, total, units by
// product, and whether it was ever paid.
type Order struct {
	Customer, Key, Status string
	Total                 int64
	Lines                 map[string]int64
	WasPaid               bool
}

// Charge is a PaymentIntent: what it received and what was refunded.
type Charge struct {
	IntentID           string
	Received, Refunded int64
}

// Violation is a broken invariant and the entities involved.
type Violation struct {
	Invariant string // "no oversell", "no double charge", …
	Entities  string // "order 0193… (customer …)"
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Entities + ": " + v.Detail }

// The invariants, as violations name them.
const (
	NoOversell     = "no oversell"
	NoDoubleCharge = "no double charge"
	NoLostOrder    = "no lost order"
	MoneyConserved = "money conserved"
	NoLostEvent    = "no lost event"
	Idempotency    = "idempotency"
)

// Check checks the invariants over a snapshot and the history of the
// workload (placed: the order ids each customer's key was answered 201
// with, History.Placed). It returns every violation, in a stable order.
func Check(s Snapshot, placed map[string][]string) []Violation {
	var out []Violation
	add := func(invariant, entities, format string, args ...any) {
		out = append(out, Violation{invariant, entities, fmt.Sprintf(format, args...)})
	}
	checkStock(s, add)
	checkOrders(s, placed, add)
	checkMoney(s, add)
	checkEvents(s, add)
	sort.SliceStable(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Summary counts what a snapshot holds, to show what the checker checked.
func (s Snapshot) Summary() string {
	statuses := map[string]int{}
	for _, o := range s.Orders {
		statuses[o.Status]++
	}
	var captured, refunded int64
	captures := 0
	for _, cs := range s.Charges {
		for _, c := range cs {
			if c.Received > 0 {
				captures++
			}
			captured += c.Received
			refunded += c.Refunded
		}
	}
	emails := 0
	for _, n := range s.Notified {
		emails += n
	}
	var parts []string
	for _, st := range sorted(statuses) {
		parts = append(parts, fmt.Sprintf("%s %d", st, statuses[st]))
	}
	return fmt.Sprintf("%d orders (%s), %d captures of %d in all, %d refunded, %d confirmation emails, "+
		"%d reservations, %d products", len(s.Orders), strings.Join(parts, ", "), captures, captured,
		refunded, emails, len(s.Reservations), len(s.Stock))
}

type adder func(invariant, entities, format string, args ...any)

// checkStock: no product has more reserved than on hand; its row is what
// its ledger adds up to; its reserved units are its held reservations';
// and every order's reservation is in the state the order's status calls
// for, with the order's units.
func checkStock(s Snapshot, add adder) {
	for _, id := range sorted(s.Stock) {
		st := s.Stock[id]
		who := "product " + id
		if st.OnHand < 0 || st.Reserved < 0 || st.Reserved > st.OnHand {
			add(NoOversell, who, "on hand %d, reserved %d", st.OnHand, st.Reserved)
		}
		if st.OnHand != st.LedgerOnHand || st.Reserved != st.LedgerReserved {
			add(NoOversell, who, "on hand %d, reserved %d, but the ledger adds up to %d and %d",
				st.OnHand, st.Reserved, st.LedgerOnHand, st.LedgerReserved)
		}
		if st.Reserved != st.Held {
			add(NoOversell, who, "reserved %d, but its held reservations hold %d", st.Reserved, st.Held)
		}
	}
	sold := map[string]int64{} // units by product in orders paid and not cancelled
	for _, id := range sorted(s.Orders) {
		o := s.Orders[id]
		r, reserved := s.Reservations[id]
		who := "order " + id
		switch o.Status {
		case "paid", "shipped", "delivered":
			for p, n := range o.Lines {
				sold[p] += n
			}
			if !reserved || r.Status != "committed" {
				add(NoOversell, who, "is %s but its reservation is %q", o.Status, r.Status)
			} else if !maps.Equal(r.Lines, o.Lines) {
				add(NoOversell, who, "has units %v but its reservation %v", o.Lines, r.Lines)
			}
		case "cancelled", "failed":
			if reserved && (r.Status == "held" || r.Status == "committed") {
				add(NoLostOrder, who, "is %s but its stock is still %s", o.Status, r.Status)
			}
		}
	}
	committed := map[string]int64{}
	for _, id := range sorted(s.Reservations) {
		r := s.Reservations[id]
		if r.Status == "committed" {
			for p, n := range r.Lines {
				committed[p] += n
			}
		}
		if _, ok := s.Orders[id]; !ok && (r.Status == "held" || r.Status == "committed") {
			add(NoOversell, "reservation "+id, "is %s but no order has its id", r.Status)
		}
	}
	for _, p := range sorted(mergeKeys(sold, committed)) {
		if sold[p] != committed[p] {
			add(NoOversell, "product "+p, "%d units in paid orders, %d in committed reservations",
				sold[p], committed[p])
		}
	}
}

// checkOrders: every order answered 201 exists and ended paid (or on) or
// cancelled; no order is left unfinished; one order per key.
func checkOrders(s Snapshot, placed map[string][]string, add adder) {
	byKey := map[string][]string{}
	for _, id := range sorted(s.Orders) {
		o := s.Orders[id]
		byKey[o.Customer+" "+o.Key] = append(byKey[o.Customer+" "+o.Key], id)
		if o.Status == "checkout" || o.Status == "pending_payment" {
			add(NoLostOrder, "order "+id, "is still %s", o.Status)
		}
	}
	for _, k := range sorted(byKey) {
		if ids := byKey[k]; len(ids) > 1 {
			add(Idempotency, "customer and key "+k, "%d orders: %s", len(ids), strings.Join(ids, ", "))
		}
	}
	for _, k := range sorted(placed) {
		ids := placed[k]
		if len(ids) > 1 {
			add(Idempotency, "customer and key "+k, "answered 201 with %d orders: %s", len(ids),
				strings.Join(ids, ", "))
		}
		for _, id := range ids {
			o, ok := s.Orders[id]
			switch {
			case !ok:
				add(NoLostOrder, "order "+id+" ("+k+")", "answered 201 but orders has no such order")
			case o.Customer+" "+o.Key != k:
				add(Idempotency, "order "+id, "answered for %s but belongs to %s %s", k, o.Customer, o.Key)
			case !slices.Contains([]string{"paid", "shipped", "delivered", "cancelled"}, o.Status):
				add(NoLostOrder, "order "+id+" ("+k+")", "answered 201 and ended %s", o.Status)
			}
		}
	}
}

// checkMoney: at most one capture per order, refunds within captures; a
// paid order kept its total, a cancelled one got it all back; and over the
// shop, captures − refunds = the totals of the paid orders.
func checkMoney(s Snapshot, add adder) {
	var net, owed int64
	for _, id := range sorted(mergeKeys(s.Charges, s.Orders)) {
		o, known := s.Orders[id]
		who := "order " + id
		var captures, kept int64
		var intents []string
		for _, c := range s.Charges[id] {
			if c.Received > 0 {
				captures++
				intents = append(intents, c.IntentID)
			}
			if c.Refunded > c.Received {
				add(NoDoubleCharge, who+", intent "+c.IntentID, "refunded %d of %d received", c.Refunded, c.Received)
			}
			kept += c.Received - c.Refunded
		}
		net += kept
		if captures > 1 {
			add(NoDoubleCharge, who, "captured %d times: %s", captures, strings.Join(intents, ", "))
		}
		switch {
		case !known && kept != 0:
			add(MoneyConserved, who, "keeps %d captured for no order", kept)
		case !known:
		case o.Status == "paid" || o.Status == "shipped" || o.Status == "delivered":
			owed += o.Total
			if kept != o.Total {
				add(MoneyConserved, who, "is %s for %d, keeps %d captured", o.Status, o.Total, kept)
			}
		case kept != 0:
			add(MoneyConserved, who, "is %s and keeps %d captured", o.Status, kept)
		}
	}
	if net != owed {
		add(MoneyConserved, "the shop", "captures − refunds = %d, paid orders' totals = %d", net, owed)
	}
}

// checkEvents: every order ever paid produced one orders.order.paid event
// and one confirmation email.
func checkEvents(s Snapshot, add adder) {
	for _, id := range sorted(s.Orders) {
		if !s.Orders[id].WasPaid {
			continue
		}
		events := s.PaidEvents[id]
		emails := 0
		for _, e := range events {
			emails += s.Notified[e]
		}
		if len(events) != 1 || emails != 1 {
			add(NoLostEvent, "order "+id, "%d orders.order.paid events %v, %d confirmation emails",
				len(events), events, emails)
		}
	}
}

func sorted[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func mergeKeys[A, B any](a map[string]A, b map[string]B) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
