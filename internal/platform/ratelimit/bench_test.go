package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/redistest"
)

// BenchmarkHit measures Hit per second: on one hot key (its log full, the
// worst case for Memory) and spread over 10,000 keys, from one goroutine and
// from GOMAXPROCS×4 of them.
func BenchmarkHit(b *testing.B) {
	stores := []struct {
		name  string
		store func(b *testing.B) Store
	}{
		{"memory", func(*testing.B) Store { return NewMemory(MemoryOptions{}) }},
		{"redis", func(b *testing.B) Store {
			client := redistest.Require(b, asOpen)
			return NewRedis(client, redistest.Prefix(b, client, "ratelimit"))
		}},
	}
	l := Limit{Max: 100, Window: 15 * time.Minute}
	ctx := context.Background()
	for _, s := range stores {
		for _, spread := range []int{1, 10_000} {
			keys := make([]string, spread)
			for i := range keys {
				keys[i] = "login:addr:" + strconv.Itoa(i)
			}
			name := s.name + "/keys=" + strconv.Itoa(spread)
			b.Run(name+"/serial", func(b *testing.B) {
				st := s.store(b)
				i := 0
				for b.Loop() {
					if _, err := st.Hit(ctx, keys[i%spread], l); err != nil {
						b.Fatal(err)
					}
					i++
				}
				reportRate(b)
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				st := s.store(b)
				var next atomic.Int64
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := int(next.Add(1))
						if _, err := st.Hit(ctx, keys[i%spread], l); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportRate(b)
			})
		}
	}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hits/s")
}
