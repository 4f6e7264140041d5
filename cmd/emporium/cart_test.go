package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
)

// call sends a JSON request to the all-in-one and decodes a JSON answer
// into out (when not nil), failing unless it answers want.
func call(t *testing.T, method, url string, body any, want int, out any, headers ...string) http.Header {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	return res.Header
}

type cartLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

type cartAnswer struct {
	ID    string     `json:"id"`
	Items []cartLine `json:"items"`
	Stale bool       `json:"stale"`
}

// TestCartSurvivesRestart fills a customer's cart and a guest cart through
// the front door, priced by the catalog, restarts the whole all-in-one on
// the same data, and finds both carts as they were.
func TestCartSurvivesRestart(t *testing.T) {
	bin := binary(t)
	data := filepath.Join(t.TempDir(), "data")
	p := start(t, bin, data)
	base := "http://" + p.addr
	var products struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	call(t, "GET", base+"/api/v1/products?limit=2", nil, http.StatusOK, &products)
	if len(products.Items) != 2 {
		t.Fatalf("%d demo products, want 2", len(products.Items))
	}
	mug, tea := products.Items[0].ID, products.Items[1].ID
	var session struct {
		AccessToken string `json:"access_token"`
	}
	call(t, "POST", base+"/api/v1/auth/register", map[string]any{"email": "ada@example.com",
		"password": "correct horse battery", "name": "Ada"}, http.StatusCreated, &session)
	bearer := "Bearer " + session.AccessToken

	var before cartAnswer
	call(t, "POST", base+"/api/v1/cart/items", map[string]any{"product_id": mug, "quantity": 2},
		http.StatusOK, &before, "Authorization", bearer)
	h := call(t, "POST", base+"/api/v1/cart/items", map[string]any{"product_id": tea, "quantity": 1},
		http.StatusOK, nil)
	token := h.Get("Cart-Token")
	if token == "" {
		t.Fatal("a guest's first add answered no Cart-Token")
	}
	p.stop(t)

	p = start(t, bin, data)
	base = "http://" + p.addr
	var after, guest cartAnswer
	call(t, "GET", base+"/api/v1/cart", nil, http.StatusOK, &after, "Authorization", bearer)
	if after.ID != before.ID || !slices.Equal(after.Items, []cartLine{{mug, 2}}) || after.Stale {
		t.Errorf("the customer's cart after a restart = %+v, want %+v", after, before)
	}
	call(t, "GET", base+"/api/v1/cart", nil, http.StatusOK, &guest, "Cart-Token", token)
	if !slices.Equal(guest.Items, []cartLine{{tea, 1}}) {
		t.Errorf("the guest cart after a restart = %+v", guest)
	}
	p.stop(t)
}
