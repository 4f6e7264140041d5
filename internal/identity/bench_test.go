package identity

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkLogin measures logins per second through HTTP with OWASP's argon2id
// parameters, and the latency a user sees while the service is saturated
// (more concurrent logins than CPUs, so the hashing semaphore queues them).
func BenchmarkLogin(b *testing.B) {
	e := start(b, sqliteURL(b), func(c *Config) { c.weakHash = false })
	e.register("bench@example.com", goodPassword)
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if r := e.login("bench@example.com", goodPassword); r.status != http.StatusOK {
				b.Errorf("login answered %d", r.status)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "logins/s")
		b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	}
}
