package auth_test

import (
	"context"
	"testing"

	"emporium/internal/platform/auth/authtest"
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
