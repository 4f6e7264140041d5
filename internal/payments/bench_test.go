package payments

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"emporium/internal/event"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// BenchmarkConfirmPublished measures a sandbox confirm until its
// payments.payment.succeeded is on NATS: the HTTP confirm, the sandbox's
// event through the webhook path, the outbox relay's publish. It reports
// confirms per second and the 99th percentile of the time from sending the
// confirm to receiving the event. Payments are created outside the timer.
// The outbox relay polls every 100 ms, which bounds the latency from below
// and, with one client, phase-locks the loop to the relay's rounds.
//
//	go test -run '^$' -bench ConfirmPublished ./internal/payments/
func BenchmarkConfirmPublished(b *testing.B) {
	for _, parallel := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("clients-%d", parallel), func(b *testing.B) {
			benchConfirm(b, parallel)
		})
	}
}

func benchConfirm(b *testing.B, parallel int) {
	dbURL := sqldbtest.SQLiteURL(b)
	if pg := sqldbtest.PostgresURL(); pg != "" {
		dbURL = sqldbtest.PostgresDatabase(b, Schema)
	}
	e := start(b, dbURL, nil)
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	waiting := map[string]chan time.Time{}
	sub, err := nc.Subscribe(event.PaymentSucceeded, func(m *nats.Msg) {
		at := time.Now()
		var env event.Envelope
		var pc event.PaymentChanged
		if json.Unmarshal(m.Data, &env) != nil || env.Decode(&pc) != nil {
			return
		}
		mu.Lock()
		ch := waiting[pc.PaymentID]
		mu.Unlock()
		if ch != nil {
			ch <- at
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()

	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = e.create(1000).ID
		waiting[ids[i]] = make(chan time.Time, 1)
	}
	latencies := make([]time.Duration, b.N)
	next := make(chan int, b.N)
	for i := range ids {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range next {
				sent := time.Now()
				r := e.confirm(ids[i], "pm_card_visa")
				if r.Status != http.StatusOK {
					b.Errorf("confirm: %d %s", r.Status, r.Body)
					return
				}
				select {
				case at := <-waiting[ids[i]]:
					latencies[i] = at.Sub(sent)
				case <-time.After(30 * time.Second):
					b.Errorf("no payments.payment.succeeded for %s", ids[i])
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "confirms/s")
	b.ReportMetric(float64(latencies[(len(latencies)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
}
