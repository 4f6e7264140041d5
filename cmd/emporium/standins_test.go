package main

// Stand-ins for the cart and payments services, which are being built at the
// same time as the orders service: each speaks its service's wire contract
// (docs/internal-api.md, API.md) closely enough for checkout's tests, and is
// replaced by the real service once it exists.

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// standInCart keeps carts in memory: the public add and read, the internal
// read, and the removal of bought lines on orders.order.placed.
func standInCart() app.Unit {
	return app.Unit{Name: "cart", Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
		var mu sync.Mutex
		carts := map[string]map[string]int64{}
		type line struct {
			ProductID string `json:"product_id"`
			Quantity  int64  `json:"quantity"`
		}
		items := func(customer string) []line {
			mu.Lock()
			defer mu.Unlock()
			out := []line{}
			for id, q := range carts[customer] {
				out = append(out, line{id, q})
			}
			return out
		}
		pub := web.NewRouter()
		pub.HandleFunc("POST /api/v1/cart/items", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			var in line
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
			c, _ := auth.CallerFrom(r.Context())
			mu.Lock()
			if carts[c.UserID] == nil {
				carts[c.UserID] = map[string]int64{}
			}
			carts[c.UserID][in.ProductID] += in.Quantity
			mu.Unlock()
			return web.JSON(w, http.StatusOK, map[string]any{"items": items(c.UserID)})
		}))
		pub.HandleFunc("PATCH /api/v1/cart/items/{id}", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			var in struct {
				Quantity int64 `json:"quantity"`
			}
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
			c, _ := auth.CallerFrom(r.Context())
			mu.Lock()
			if in.Quantity == 0 {
				delete(carts[c.UserID], r.PathValue("id"))
			} else {
				carts[c.UserID][r.PathValue("id")] = in.Quantity
			}
			mu.Unlock()
			return web.JSON(w, http.StatusOK, map[string]any{"items": items(c.UserID)})
		}))
		pub.HandleFunc("GET /api/v1/cart", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			c, _ := auth.CallerFrom(r.Context())
			return web.JSON(w, http.StatusOK, map[string]any{"items": items(c.UserID)})
		}))
		internal := web.NewRouter()
		internal.HandleFunc("GET /internal/carts/{id}", func(w http.ResponseWriter, r *http.Request) error {
			id := r.PathValue("id")
			return web.JSON(w, http.StatusOK, map[string]any{"customer_id": id, "items": items(id),
				"updated_at": time.Now().UTC()})
		})
		placed := bus.ConsumerConfig{Stream: event.OrdersStream, Durable: "cart-orders",
			FilterSubjects: []string{event.OrderPlaced},
			Handler: func(_ context.Context, env event.Envelope) error {
				var oc event.OrderChanged
				if err := env.Decode(&oc); err != nil {
					return bus.Permanent(err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, l := range oc.Lines {
					if c := carts[oc.CustomerID]; c != nil {
						if c[l.ProductID] -= int64(l.Quantity); c[l.ProductID] <= 0 {
							delete(c, l.ProductID)
						}
					}
				}
				return nil
			}}
		return &app.Service{Public: pub, Paths: []string{"/api/v1/cart", "/api/v1/cart/"},
			Internal: internal, Consumers: []bus.ConsumerConfig{placed}}, nil
	}}
}

// standInPayment is the stand-in's payment, in the internal shape.
type standInPayment struct {
	ID           string      `json:"id"`
	OrderID      string      `json:"order_id"`
	CustomerID   string      `json:"customer_id"`
	Provider     string      `json:"provider"`
	Amount       event.Money `json:"amount"`
	Status       string      `json:"status"`
	ClientSecret string      `json:"client_secret,omitempty"`
	FailureCode  *string     `json:"failure_code"`
	Refunded     event.Money `json:"refunded"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

var errPaymentTransition = errs.New(errs.Conflict, "invalid_transition", "not in that state")

// standInPayments is the sandbox provider in memory: create (idempotent by
// order), read, cancel and refund inside; confirm and read outside; and the
// payments.payment.* events.
func standInPayments() app.Unit {
	stream := bus.StreamConfig{Name: event.PaymentsStream, Subjects: []string{"payments.>"},
		MaxAge: time.Hour}
	return app.Unit{Name: "payments", Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
		var mu sync.Mutex
		byID, byOrder := map[string]*standInPayment{}, map[string]*standInPayment{}
		publish := func(ctx context.Context, typ string, p *standInPayment) error {
			env, err := event.New(typ, event.PaymentsSource, event.PaymentChanged{PaymentID: p.ID,
				OrderID: p.OrderID, CustomerID: p.CustomerID, Provider: p.Provider, Status: p.Status,
				Amount: p.Amount, At: time.Now().UTC()})
			if err != nil {
				return err
			}
			return d.Bus.PublishEvent(ctx, env)
		}
		get := func(id string) (standInPayment, error) {
			mu.Lock()
			defer mu.Unlock()
			p, ok := byID[id]
			if !ok {
				return standInPayment{}, errs.New(errs.NotFound, "not_found", "no such payment")
			}
			return *p, nil
		}
		// change applies f to payment id and publishes what it returns, if anything.
		change := func(ctx context.Context, id string, f func(p *standInPayment) (string, error)) (standInPayment, error) {
			mu.Lock()
			p, ok := byID[id]
			if !ok {
				mu.Unlock()
				return standInPayment{}, errs.New(errs.NotFound, "not_found", "no such payment")
			}
			typ, err := f(p)
			p.UpdatedAt = time.Now().UTC()
			cp := *p
			mu.Unlock()
			if err != nil {
				return standInPayment{}, err
			}
			if typ != "" {
				if err := publish(ctx, typ, &cp); err != nil {
					return standInPayment{}, err
				}
			}
			return cp, nil
		}
		internal := web.NewRouter()
		internal.HandleFunc("POST /internal/payments", func(w http.ResponseWriter, r *http.Request) error {
			var in struct {
				OrderID    string      `json:"order_id"`
				CustomerID string      `json:"customer_id"`
				Amount     event.Money `json:"amount"`
			}
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if p, ok := byOrder[in.OrderID]; ok {
				if p.Amount != in.Amount {
					return errs.New(errs.Conflict, "payment_mismatch", "another amount")
				}
				return web.JSON(w, http.StatusOK, p)
			}
			now := time.Now().UTC()
			p := &standInPayment{ID: uuid.NewString(), OrderID: in.OrderID, CustomerID: in.CustomerID,
				Provider: "sandbox", Amount: in.Amount, Status: "requires_payment_method",
				ClientSecret: "secret_" + uuid.NewString(), Refunded: event.Money{Currency: in.Amount.Currency},
				CreatedAt: now, UpdatedAt: now}
			byID[p.ID], byOrder[p.OrderID] = p, p
			return web.JSON(w, http.StatusCreated, p)
		})
		internal.HandleFunc("GET /internal/payments/{id}", func(w http.ResponseWriter, r *http.Request) error {
			p, err := get(r.PathValue("id"))
			if err != nil {
				return err
			}
			p.ClientSecret = ""
			return web.JSON(w, http.StatusOK, p)
		})
		internal.HandleFunc("POST /internal/payments/{id}/cancel", func(w http.ResponseWriter, r *http.Request) error {
			p, err := change(r.Context(), r.PathValue("id"), func(p *standInPayment) (string, error) {
				switch p.Status {
				case "canceled":
					return "", nil
				case "succeeded", "refunded":
					return "", errPaymentTransition
				}
				p.Status = "canceled"
				return event.PaymentCanceled, nil
			})
			if err != nil {
				return err
			}
			return web.JSON(w, http.StatusOK, p)
		})
		internal.HandleFunc("POST /internal/payments/{id}/refund", func(w http.ResponseWriter, r *http.Request) error {
			var in struct {
				Amount *event.Money `json:"amount"`
				Reason string       `json:"reason"`
			}
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
			p, err := change(r.Context(), r.PathValue("id"), func(p *standInPayment) (string, error) {
				switch p.Status {
				case "refunded":
					return "", nil
				case "succeeded":
					p.Status, p.Refunded = "refunded", p.Amount
					return event.PaymentRefunded, nil
				}
				return "", errPaymentTransition
			})
			if err != nil {
				return err
			}
			return web.JSON(w, http.StatusOK, p)
		})
		pub := web.NewRouter()
		own := func(r *http.Request) (standInPayment, error) {
			p, err := get(r.PathValue("id"))
			c, _ := auth.CallerFrom(r.Context())
			if err == nil && p.CustomerID != c.UserID && !c.IsAdmin() {
				err = errs.New(errs.NotFound, "not_found", "no such payment")
			}
			return p, err
		}
		pub.HandleFunc("GET /api/v1/payments/{id}", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			p, err := own(r)
			if err != nil {
				return err
			}
			return web.JSON(w, http.StatusOK, p)
		}))
		pub.HandleFunc("POST /api/v1/payments/{id}/confirm", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			var in struct {
				PaymentMethod string `json:"payment_method"`
			}
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
			if _, err := own(r); err != nil {
				return err
			}
			p, err := change(r.Context(), r.PathValue("id"), func(p *standInPayment) (string, error) {
				if p.Status != "requires_payment_method" {
					return "", errPaymentTransition
				}
				switch in.PaymentMethod {
				case "pm_card_visa":
					p.Status, p.FailureCode = "succeeded", nil
					return event.PaymentSucceeded, nil
				case "pm_card_chargeDeclined":
					code := "card_declined"
					p.FailureCode = &code
					return event.PaymentFailed, nil
				}
				return "", errs.Invalidf("payment_method", "unknown test payment method %q", in.PaymentMethod)
			})
			if err != nil {
				return err
			}
			return web.JSON(w, http.StatusOK, p)
		}))
		return &app.Service{Public: pub, Paths: []string{"/api/v1/payments/"}, Internal: internal,
			Stream: &stream}, nil
	}}
}
