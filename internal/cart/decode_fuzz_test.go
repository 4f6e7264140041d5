package cart

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/web"
)

// decodeStatus runs a body through the strict decoder and the request's own
// validation, as the handlers do, and returns the status it would answer.
func decodeStatus[T any, P interface {
	*T
	web.Validator
}](body []byte) int {
	var req T
	err := web.DecodeBytes(body, &req)
	if err == nil {
		err = P(&req).Validate()
	}
	if err == nil {
		return 200
	}
	return web.ProblemFor(err).Status
}

var fuzzSeeds = []string{
	`{"product_id":"0190a3c2-7c1e-7b4e-9f0a-3d2b1c4e5f60","quantity":2}`,
	`{"product_id":"a,b","quantity":99}`, `{"product_id":"","quantity":0}`,
	`{"quantity":0}`, `{"quantity":null}`, `{"quantity":-1}`, `{"quantity":1e3}`,
	`{"quantity":99999999999999999999}`, `{"cart_token":"x"}`, `{"cart_token":null}`,
	`{"cart_token":"` + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + `"}`,
	`[]`, `null`, `{}`, `{"quantity":"1"}`, ``, `"str"`, `{"product_id":`,
	`{"product_id":"\u0000","quantity":1,"quantity":2}`, `{"Quantity":1}`,
	`{"product_id":{"nested":[1,2,{"deep":true}]}}`,
}

// fuzzDecoder checks that a decoder answers every body with a success or a
// 4xx problem, never a panic or a 5xx.
func fuzzDecoder(f *testing.F, decode func([]byte) int) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if status := decode(body); status != 200 && (status < 400 || status >= 500) {
			t.Fatalf("body %q answered %d", body, status)
		}
	})
}

func FuzzAddItemRequest(f *testing.F) { fuzzDecoder(f, decodeStatus[AddItemRequest]) }

func FuzzUpdateItemRequest(f *testing.F) { fuzzDecoder(f, decodeStatus[UpdateItemRequest]) }

func FuzzMergeRequest(f *testing.F) { fuzzDecoder(f, decodeStatus[MergeRequest]) }

// TestDecodeStatus checks that the fuzz property can fail, on known bodies.
func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"add", decodeStatus[AddItemRequest]([]byte(fuzzSeeds[0])), 200},
		{"add, no quantity", decodeStatus[AddItemRequest]([]byte(`{"product_id":"p"}`)), 422},
		{"add, malformed", decodeStatus[AddItemRequest]([]byte(`{"product_id":`)), 400},
		{"update, 0", decodeStatus[UpdateItemRequest]([]byte(`{"quantity":0}`)), 200},
		{"update, null", decodeStatus[UpdateItemRequest]([]byte(`{"quantity":null}`)), 422},
		{"merge", decodeStatus[MergeRequest]([]byte(`{"cart_token":"x"}`)), 200},
		{"merge, empty", decodeStatus[MergeRequest]([]byte(`{}`)), 422},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// FuzzHandler sends fuzzed bodies and Cart-Tokens through the cart's
// handler, on a real database, as a customer and as a guest: every answer
// is a problem with a code, or a cart with an id. The catalog cannot be
// reached, so adds answer 503 (a problem) and carts are stale.
func FuzzHandler(f *testing.F) {
	db := sqldbtest.SQLite(f, outbox.Schema, inbox.Schema, Schema)
	cfg := testConfig()
	cfg.CatalogTimeout = 50 * time.Millisecond
	svc, err := New(db, cfg, "http://127.0.0.1:1", auth.NewServiceSecret(),
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(svc)
	// A customer's cart with one line, for PATCH and DELETE to find.
	if _, _, err := svc.change(context.Background(), customer("ada"), true, func(c *cart) error {
		return c.add("p1", 1, seen{sku: "S", name: "N", price: Money{Amount: 1, Currency: "USD"}})
	}); err != nil {
		f.Fatal(err)
	}
	routes := []string{"POST /api/v1/cart/items", "PATCH /api/v1/cart/items/p1", "DELETE /api/v1/cart/items/p1",
		"POST /api/v1/cart/merge", "GET /api/v1/cart", "DELETE /api/v1/cart"}
	for _, s := range fuzzSeeds {
		for r := range routes {
			f.Add(uint8(r), true, "", []byte(s))
		}
	}
	token, _ := newToken()
	f.Add(uint8(4), false, token, []byte(nil))
	f.Add(uint8(1), false, "a,b", []byte(`{"quantity":3}`))
	f.Fuzz(func(t *testing.T, route uint8, asCustomer bool, cartToken string, body []byte) {
		method, path, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if cartToken != "" { // the handler is called directly: no wire to refuse odd values
			req.Header.Set(TokenHeader, cartToken)
		}
		if asCustomer {
			req = req.WithContext(auth.WithCaller(req.Context(), auth.Caller{UserID: "ada"}))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var answer struct {
			Code string `json:"code"`
			ID   string `json:"id"`
		}
		switch ct := w.Header().Get("Content-Type"); {
		case w.Code == http.StatusNoContent:
		case ct == "application/problem+json":
			if json.Unmarshal(w.Body.Bytes(), &answer) != nil || answer.Code == "" ||
				(w.Code >= 500 && w.Code != http.StatusServiceUnavailable) {
				t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
			}
		case ct == "application/json" && w.Code == http.StatusOK:
			if json.Unmarshal(w.Body.Bytes(), &answer) != nil || answer.ID == "" {
				t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
			}
		default:
			t.Fatalf("%s %s %q: %d %q %s", method, path, body, w.Code, ct, w.Body)
		}
	})
}
