package auth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/web"
)

// BenchmarkVerify measures token verifications with the JWKS cached.
func BenchmarkVerify(b *testing.B) {
	iss := authtest.NewIssuer(b)
	v := iss.Verifier(b)
	tok := iss.Token("user-1", "customer")
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkAuthenticatedRequest is a request with a bearer token through
// the middleware stack and Authenticate, to a handler that reads the
// caller: what verification and the per-user logger cost a request.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	iss := authtest.NewIssuer(b)
	v := iss.Verifier(b)
	tok := iss.Token("user-1", "customer")
	router := web.NewRouter()
	router.HandleFunc("GET /api/v1/cart", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
		return web.NoContent(w)
	}))
	h := web.Stack(auth.Authenticate(v)(router), web.StackConfig{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Registerer: prometheus.NewRegistry()})
	req := httptest.NewRequest("GET", "/api/v1/cart", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
