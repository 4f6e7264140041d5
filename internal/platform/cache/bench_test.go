package cache

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/redistest"
)

// BenchmarkGetHit measures a Get that hits, with a 1 KiB value (a product's
// JSON), on one key and over 1,000 keys, from one goroutine and from
// GOMAXPROCS×4 of them. Redis runs with a client that stops at deadlines
// (ContextTimeoutEnabled) and with one that does not, where each call runs
// in its own goroutine.
func BenchmarkGetHit(b *testing.B) {
	stores := []struct {
		name  string
		store func(b *testing.B) Store
	}{
		{"memory", func(*testing.B) Store { return NewMemory(MemoryOptions{}) }},
		{"redis", func(b *testing.B) Store {
			client := redistest.Require(b, unbounded)
			prefix := redistest.Prefix(b, client, "cache")
			return NewRedis(client, prefix, RedisOptions{Timeout: time.Second})
		}},
		{"redis-context-timeouts", func(b *testing.B) Store {
			client := redistest.Require(b, bounded)
			prefix := redistest.Prefix(b, client, "cache")
			return NewRedis(client, prefix, RedisOptions{Timeout: time.Second})
		}},
	}
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 1024)
	for _, s := range stores {
		for _, spread := range []int{1, 1000} {
			keys := make([]string, spread)
			for i := range keys {
				keys[i] = "product:" + strconv.Itoa(i)
			}
			name := s.name + "/keys=" + strconv.Itoa(spread)
			setUp := func(b *testing.B) Store {
				st := s.store(b)
				for _, k := range keys {
					st.Set(ctx, k, value, time.Hour)
				}
				return st
			}
			b.Run(name+"/serial", func(b *testing.B) {
				st := setUp(b)
				i := 0
				for b.Loop() {
					if _, ok := st.Get(ctx, keys[i%spread]); !ok {
						b.Fatal("miss")
					}
					i++
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				st := setUp(b)
				var next atomic.Int64
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := int(next.Add(1))
						if _, ok := st.Get(ctx, keys[i%spread]); !ok {
							b.Error("miss")
							return
						}
					}
				})
			})
		}
	}
}
