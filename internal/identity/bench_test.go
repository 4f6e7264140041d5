package identity

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkLogin measures logins per second through HTTP with OWASP's argon2id
// parameters, and the latency users see: one user at a time, and eight at
// once (more than the CPUs, so the hashing semaphore queues them).
func BenchmarkLogin(b *testing.B) {
	e := start(b, sqliteURL(b), func(c *Config) { c.weakHash = false })
	e.register("bench@example.com", goodPassword)
	for _, users := range []int{1, 8} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			next := make(chan struct{})
			go func() {
				for range b.N {
					next <- struct{}{}
				}
				close(next)
			}()
			b.ResetTimer()
			start := time.Now()
			for range users {
				wg.Go(func() {
					for range next {
						t0 := time.Now()
						if r := e.login("bench@example.com", goodPassword); r.Status != http.StatusOK {
							b.Errorf("login answered %d", r.Status)
						}
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "logins/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkVerify is one argon2id verification with OWASP's parameters, the
// cost of a login: logins per second are bounded by the CPUs over this time
// (the Hasher runs one per CPU at a time).
func BenchmarkVerify(b *testing.B) {
	h, err := NewHasher(DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	encoded, err := h.Hash(ctx, goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, encoded, goodPassword); !ok || err != nil {
			b.Fatalf("verify: %v %v", ok, err)
		}
	}
}
