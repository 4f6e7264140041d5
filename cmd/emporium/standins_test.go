package main

// A stand-in for the cart service, which is being built at the same time as
// the orders service: it speaks the cart's wire contract (docs/internal-api.md,
// API.md) closely enough for checkout's tests, and is replaced by the real
// service once it exists.

import (
	"context"
	"net/http"
	"sync"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
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
