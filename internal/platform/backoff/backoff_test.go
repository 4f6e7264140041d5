package backoff

import (
	"context"
	"testing"
	"time"
)

func TestCeilingDoublesUpToMax(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second},
		{1000, time.Second},
	} {
		if got := p.Ceiling(tc.n); got != tc.want {
			t.Errorf("Ceiling(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestDelayStaysWithinJitter(t *testing.T) {
	for _, jitter := range []float64{0, 0.2, 1} {
		p := Policy{Initial: time.Second, Max: 8 * time.Second, Jitter: jitter}
		for n := 1; n <= 6; n++ {
			ceiling := p.Ceiling(n)
			low := ceiling - time.Duration(float64(ceiling)*jitter)
			var spread bool
			first := p.Delay(n)
			for range 200 {
				d := p.Delay(n)
				if d < low || d > ceiling {
					t.Fatalf("jitter %v: Delay(%d) = %s, want within [%s, %s]", jitter, n, d,
						low, ceiling)
				}
				spread = spread || d != first
			}
			if jitter > 0 && !spread {
				t.Errorf("jitter %v: Delay(%d) returned %s 200 times", jitter, n, first)
			}
		}
	}
}

func TestSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on a cancelled context reported true")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep on a live context reported false")
	}
}
