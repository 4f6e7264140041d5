package orders

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/errs"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// placedOrder is an order just placed.
func placedOrder(t *testing.T) *Order {
	t.Helper()
	o := &Order{id: "o1", number: "EMP-10001", customerID: "c1", status: statusCheckout,
		step: stepReserved, history: []StatusChange{}}
	if err := o.Place("p1", t0, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestStateMachine walks every transition from every status: only API.md's
// arrows are taken, each recorded in the history; every other one is
// ErrInvalidTransition and changes nothing.
func TestStateMachine(t *testing.T) {
	actions := map[string]func(o *Order) error{
		"pay":     func(o *Order) error { return o.MarkPaid(t0.Add(time.Minute)) },
		"ship":    func(o *Order) error { return o.Ship("1Z999", t0.Add(time.Minute)) },
		"deliver": func(o *Order) error { return o.Deliver(t0.Add(time.Minute)) },
		"cancel": func(o *Order) error {
			_, err := o.Cancel(ReasonCustomer, t0.Add(time.Minute))
			return err
		},
	}
	// How to bring a placed order to each status.
	paths := map[string][]string{
		StatusPendingPayment: nil,
		StatusPaid:           {"pay"},
		StatusShipped:        {"pay", "ship"},
		StatusDelivered:      {"pay", "ship", "deliver"},
		StatusCancelled:      {"cancel"},
	}
	allowed := map[string]string{ // from status + action → to status
		StatusPendingPayment + " pay":    StatusPaid,
		StatusPendingPayment + " cancel": StatusCancelled,
		StatusPaid + " ship":             StatusShipped,
		StatusPaid + " cancel":           StatusCancelled,
		StatusShipped + " deliver":       StatusDelivered,
	}
	for from, path := range paths {
		for name, act := range actions {
			t.Run(from+" "+name, func(t *testing.T) {
				o := placedOrder(t)
				for _, step := range path {
					if err := actions[step](o); err != nil {
						t.Fatalf("reaching %s: %s: %v", from, step, err)
					}
				}
				before := len(o.history)
				err := act(o)
				want, ok := allowed[from+" "+name]
				if !ok {
					if !errors.Is(err, ErrInvalidTransition) {
						t.Fatalf("err = %v, want ErrInvalidTransition", err)
					}
					if o.status != from || len(o.history) != before {
						t.Fatalf("a refused transition changed the order: %s, %d entries", o.status, len(o.history))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				last := o.history[len(o.history)-1]
				if o.status != want || last.Status != want || len(o.history) != before+1 {
					t.Fatalf("status %s, last entry %+v; want %s recorded once", o.status, last, want)
				}
				if o.version() != len(o.history) {
					t.Fatalf("version %d, want %d", o.version(), len(o.history))
				}
			})
		}
	}
}

func TestCancelSaysWhetherItWasPaid(t *testing.T) {
	o := placedOrder(t)
	if paid, err := o.Cancel(ReasonWindowClosed, t0); err != nil || paid {
		t.Fatalf("unpaid order: paid %v, err %v", paid, err)
	}
	o = placedOrder(t)
	if err := o.MarkPaid(t0); err != nil {
		t.Fatal(err)
	}
	if paid, err := o.Cancel(ReasonAdmin, t0); err != nil || !paid {
		t.Fatalf("paid order: paid %v, err %v", paid, err)
	}
	if got := o.history[len(o.history)-1].Reason; got != ReasonAdmin {
		t.Fatalf("reason %q, want %q", got, ReasonAdmin)
	}
}

// An order that was never placed has no public transition, and Place works once.
func TestCheckoutOrdersArePlacedOnce(t *testing.T) {
	o := &Order{status: statusCheckout, history: []StatusChange{}}
	if err := o.MarkPaid(t0); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("paying an order not placed: %v", err)
	}
	if err := o.Place("p", t0, t0); err != nil {
		t.Fatal(err)
	}
	if err := o.Place("p", t0, t0); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("placing twice: %v", err)
	}
	if err := o.Fail(t0); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("failing a placed order: %v", err)
	}
}

func TestOrderJSON(t *testing.T) {
	o := placedOrder(t)
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "number", "customer_id", "status", "items", "subtotal", "shipping",
		"total", "shipping_address", "tracking_number", "payment_id", "status_history", "created_at",
		"updated_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if m["tracking_number"] != nil || m["payment_id"] != "p1" {
		t.Errorf("tracking_number %v, payment_id %v", m["tracking_number"], m["payment_id"])
	}
}

func TestShipping(t *testing.T) {
	s := Shipping{Fee: 499, FreeFrom: 5000}
	for _, tt := range []struct{ subtotal, want int64 }{{1, 499}, {4999, 499}, {5000, 0}, {9000, 0}} {
		if got := s.For(Money{Amount: tt.subtotal, Currency: "USD"}); got != (Money{Amount: tt.want, Currency: "USD"}) {
			t.Errorf("shipping of %d = %v, want %d", tt.subtotal, got, tt.want)
		}
	}
}

func TestRequestHashComparesJSON(t *testing.T) {
	a, _ := requestHash([]byte(`{"shipping_address":{"name":"Ada","city":"London"}}`))
	b, _ := requestHash([]byte("{ \"shipping_address\" : {\"city\":\"London\",\n\"name\":\"Ada\"} }"))
	c, _ := requestHash([]byte(`{"shipping_address":{"name":"Ada","city":"Paris"}}`))
	if a != b {
		t.Error("the same JSON in another layout hashes differently")
	}
	if a == c {
		t.Error("different JSON hashes the same")
	}
}

func TestAddressValidation(t *testing.T) {
	valid := func() *AddressRequest {
		return &AddressRequest{Name: " Ada Lovelace ", Line1: "12 St James's Square", City: "London",
			PostalCode: "SW1Y 4JH", Country: "gb"}
	}
	tests := []struct {
		name   string
		edit   func(a *AddressRequest)
		fields []string
	}{
		{"valid", func(*AddressRequest) {}, nil},
		{"empty name", func(a *AddressRequest) { a.Name = "  " }, []string{"shipping_address.name"}},
		{"long line1", func(a *AddressRequest) { a.Line1 = strings.Repeat("x", 201) }, []string{"shipping_address.line1"}},
		{"control", func(a *AddressRequest) { a.City = "Lon\x00don" }, []string{"shipping_address.city"}},
		{"postal code", func(a *AddressRequest) { a.PostalCode = "SW1Y/4JH" }, []string{"shipping_address.postal_code"}},
		{"three letters", func(a *AddressRequest) { a.Country = "GBR" }, []string{"shipping_address.country"}},
		{"unassigned", func(a *AddressRequest) { a.Country = "XX" }, []string{"shipping_address.country"}},
		{"several", func(a *AddressRequest) { a.Name, a.Country = "", "" },
			[]string{"shipping_address.name", "shipping_address.country"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CheckoutRequest{ShippingAddress: valid()}
			tt.edit(r.ShippingAddress)
			err := r.Validate()
			var got []string
			var e *errs.Error
			if errors.As(err, &e) {
				for _, f := range e.Fields {
					got = append(got, f.Field)
				}
			}
			if !slices.Equal(got, tt.fields) {
				t.Fatalf("fields %v, want %v (%v)", got, tt.fields, err)
			}
			if err == nil {
				a := r.address()
				if a.Name != "Ada Lovelace" || a.Country != "GB" || a.Line2 != nil {
					t.Fatalf("address %+v: not trimmed and upper-cased", a)
				}
			}
		})
	}
	if err := (&CheckoutRequest{}).Validate(); err == nil {
		t.Error("no shipping_address passed")
	}
}

func TestCountries(t *testing.T) {
	if !slices.IsSorted(countries) || len(countries) != 249 {
		t.Fatalf("%d countries, sorted %v", len(countries), slices.IsSorted(countries))
	}
}
