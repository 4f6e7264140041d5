package testkit

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Call names one call of a ClosedLoop: its client, the client's count of
// calls before it, and its index among all b.N calls.
type Call struct{ Client, Seq, Index int }

// ClosedLoop runs b.N calls of op from clients goroutines, each calling again
// as soon as its last call returned, and reports the rate (unit a second)
// and the 50th and 99th percentile latency. The first error fails the
// benchmark.
func ClosedLoop(b *testing.B, clients int, unit string, op func(Call) error) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for c := range clients {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := op(Call{Client: c, Seq: seq, Index: i}); err != nil {
					errc <- err
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
}
