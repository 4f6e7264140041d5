package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/openapi/openapitest"
)

// startAllInOne runs the whole shop in one process, as `emporium` does, and
// returns it as a shop whose front door is the all-in-one's.
func startAllInOne(t *testing.T, opts shopOptions, demo bool) *shop {
	t.Helper()
	cfg := shopConfig(t, opts)
	cfg.Catalog.DemoData = demo
	cfg.AllInOne.Addr, cfg.AllInOne.InternalAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AllInOne.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.AllInOne.ShutdownDrain = 0
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := app.StartAllInOne(ctx, cfg.AllInOne, shopUnits(t, cfg), log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("all-in-one: %v", err)
		}
	})
	s := &shop{t: t, kind: "sqlite", front: "http://" + rt.Addr()}
	eventuallyT(t, "the all-in-one is ready", func() bool {
		res, err := http.Get(s.front + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	doc, err := ordersDoc()
	if err != nil {
		t.Fatal(err)
	}
	s.client = apptest.Client{T: t, HTTP: &http.Client{Transport: ordersOnly{
		orders: openapitest.ValidatingTransport(t, doc, http.DefaultTransport),
		rest:   http.DefaultTransport,
	}}}
	s.admin = s.login(adminEmail, adminPassword)
	return s
}

// TestCustomerJourney goes through the all-in-one's front door as a customer
// and an admin would: register, browse the demo catalog, fill the cart,
// check out, pay with pm_card_visa, see the order paid, and the admin ships
// and delivers it.
func TestCustomerJourney(t *testing.T) {
	s := startAllInOne(t, shopOptions{}, true)
	_, token := s.customer()

	var list struct {
		Items []struct {
			ID        string    `json:"id"`
			Price     moneyView `json:"price"`
			Available int64     `json:"available"`
		} `json:"items"`
	}
	s.expect(s.do("GET", "/api/v1/products?in_stock=true&sort=price&limit=5", "", nil), http.StatusOK, "").JSON(t, &list)
	if len(list.Items) < 2 {
		t.Fatalf("the demo catalog lists %d products in stock", len(list.Items))
	}
	first, second := list.Items[0], list.Items[1]
	before := s.inventory(first.ID)
	s.addToCart(token, first.ID, 1)
	s.addToCart(token, second.ID, 1)

	p := s.place(token)
	if want := first.Price.Amount + second.Price.Amount; p.Order.Subtotal.Amount != want {
		t.Errorf("subtotal %d, want %d", p.Order.Subtotal.Amount, want)
	}
	waitCartEmpty(t, s, token, first.ID, second.ID)
	if got := s.confirm(token, p.Payment.ID, "pm_card_visa"); got.Status != "succeeded" &&
		got.Status != "processing" {
		t.Fatalf("payment %+v", got)
	}
	s.waitStatus(token, p.Order.ID, "paid")
	s.waitStock(first.ID, inventory{OnHand: before.OnHand - 1, Reserved: before.Reserved,
		Available: before.Available - 1})

	for _, step := range []map[string]any{{"status": "shipped", "tracking_number": "1Z999"},
		{"status": "delivered"}} {
		s.expect(s.do("POST", "/api/v1/admin/orders/"+p.Order.ID+"/status", s.admin, step), http.StatusOK, "")
	}
	o := s.order(token, p.Order.ID)
	if o.Status != "delivered" || o.TrackingNumber != "1Z999" || len(o.StatusHistory) != 4 {
		t.Errorf("order %+v", o)
	}
	var mine struct {
		Items []order `json:"items"`
	}
	s.expect(s.do("GET", "/api/v1/orders", token, nil), http.StatusOK, "").JSON(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != p.Order.ID {
		t.Errorf("the customer's orders: %+v", mine.Items)
	}
	s.expect(s.do("GET", "/openapi/orders.yaml", "", nil), http.StatusOK, "")
}
