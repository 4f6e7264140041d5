package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The runner counts successes and failures by cause: the server answers
// every third request 503 and every fifth 404, and drops the connection of
// every request to /drop without an answer (every fourth operation).
func TestRunCountsErrorsByCause(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		switch {
		case r.URL.Path == "/drop":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case i%3 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case i%5 == 0:
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	c := NewClient(4)
	var ops atomic.Int64
	res := Run(context.Background(), Config{Concurrency: 4, Warmup: 50 * time.Millisecond,
		Duration: 300 * time.Millisecond}, func(ctx context.Context, _ *Worker) error {
		url := srv.URL
		if ops.Add(1)%4 == 0 {
			url += "/drop"
		}
		_, err := Do(ctx, c, Request{Method: "GET", URL: url}, nil)
		return err
	})
	if res.Ops == 0 || res.Errors["status 503"] == 0 || res.Errors["status 404"] == 0 {
		t.Fatalf("ops %d errors %v", res.Ops, res.Errors)
	}
	if ex := res.Examples["status 503"]; !strings.Contains(ex, "GET "+srv.URL) || !strings.Contains(ex, "503") {
		t.Errorf("the example of a 503 is %q", ex)
	}
	transport := res.ErrorCount() - res.Errors["status 503"] - res.Errors["status 404"]
	if transport == 0 {
		t.Errorf("no dropped connection counted: %v", res.Errors)
	}
	for cause := range res.Errors {
		if len(cause) > 6 && cause[:6] == "other:" {
			t.Errorf("an uncategorised failure: %q", cause)
		}
	}
	// Every counted request reached the server, and warm-up requests are not counted.
	if total := res.Ops + res.ErrorCount(); int64(total) >= n.Load() {
		t.Errorf("%d counted of %d served: the warm-up was counted", total, n.Load())
	}
	if res.Latencies.Len() != res.Ops || res.Rate() <= 0 {
		t.Errorf("%d latencies for %d ops, rate %v", res.Latencies.Len(), res.Ops, res.Rate())
	}
}

// The runner measures for the duration after the warm-up: it returns no
// earlier than their sum, counts no operation that ended before the window
// or after it, and starts none after it.
func TestRunHonoursDuration(t *testing.T) {
	const warmup, duration, conc = 100 * time.Millisecond, 200 * time.Millisecond, 3
	var mu sync.Mutex
	var ends []time.Time
	start := time.Now()
	res := Run(context.Background(), Config{Concurrency: conc, Warmup: warmup, Duration: duration},
		func(ctx context.Context, w *Worker) error {
			time.Sleep(time.Millisecond)
			mu.Lock()
			ends = append(ends, time.Now())
			mu.Unlock()
			return nil
		})
	took := time.Since(start)
	if took < warmup+duration {
		t.Errorf("returned after %v, before warm-up and duration (%v)", took, warmup+duration)
	}
	if res.Elapsed != duration {
		t.Errorf("elapsed %v, want %v", res.Elapsed, duration)
	}
	from, end := start.Add(warmup), start.Add(warmup+duration)
	before, within, after := 0, 0, 0
	for _, e := range ends {
		switch {
		case e.Before(from):
			before++
		case e.After(end.Add(5 * time.Millisecond)):
			after++
		default:
			within++
		}
	}
	if before == 0 {
		t.Errorf("no operation in the warm-up")
	}
	if res.Ops > within+conc || res.Ops < within-2*conc {
		t.Errorf("%d ops counted, %d ended within the window", res.Ops, within)
	}
	if after > conc {
		t.Errorf("%d operations ended well after the window: some started after it", after)
	}
}

// A slow part of an operation before Restart is not in its latency.
func TestRestartLeavesPreparationOut(t *testing.T) {
	const prep = 100 * time.Millisecond
	res := Run(context.Background(), Config{Concurrency: 2, Duration: 3 * prep},
		func(ctx context.Context, w *Worker) error {
			time.Sleep(prep)
			w.Restart()
			return nil
		})
	if res.Ops == 0 || res.Latencies.Max() >= prep {
		t.Errorf("ops %d, max latency %v includes the preparation", res.Ops, res.Latencies.Max())
	}
}

// The bare server answers a JSON body of the size asked for.
func TestBareHandler(t *testing.T) {
	srv := httptest.NewServer(BareHandler())
	defer srv.Close()
	c := NewClient(1)
	for _, size := range []int{2, 5, 10, 1234} {
		var v map[string]any
		n, err := Do(context.Background(), c, Request{Method: "POST", URL: srv.URL + "/x?size=" +
			itoa(size), Body: map[string]int{"a": 1}}, &v)
		if err != nil || n != size {
			t.Errorf("size %d: got %d bytes, %v", size, n, err)
		}
	}
	raw := jsonOfSize(100)
	if !json.Valid(raw) || len(raw) != 100 {
		t.Errorf("jsonOfSize(100) = %q", raw)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
