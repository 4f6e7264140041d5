package chaos

import (
	"sync"
	"time"
)

// Op is one request of the workload and its answer.
type Op struct {
	At       time.Time
	Actor    string // "customer-3", "admin"
	Customer string // the customer's user id, once registered
	// Kind is register, add, checkout, confirm, cancel, restock, shipped,
	// delivered…; and placed: not a request, the order a checkout's 201
	// named.
	Kind string
	// Key is a checkout's Idempotency-Key; OrderID and PaymentID what the
	// request was about or what its answer named.
	Key, OrderID, PaymentID string
	Detail                  string // a product, a payment method, a state
	Status                  int    // the HTTP status; 0 when no answer came
	Err                     string // the transport's error, when no answer came
}

// History is every request of a run, in the order answered.
type History struct {
	mu  sync.Mutex
	ops []Op
}

// Add records an op.
func (h *History) Add(op Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// Ops returns a copy of what was recorded.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// Placed is every checkout answered 201: the order ids each customer's key
// was answered with (more than one is a violation the checker reports),
// from the placed ops.
func (h *History) Placed() map[string][]string {
	out := map[string][]string{}
	for _, op := range h.Ops() {
		if op.Kind != "placed" {
			continue
		}
		k := op.Customer + " " + op.Key
		seen := false
		for _, id := range out[k] {
			seen = seen || id == op.OrderID
		}
		if !seen {
			out[k] = append(out[k], op.OrderID)
		}
	}
	return out
}
