package testkit

import (
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPoll(t *testing.T) {
	t.Parallel()
	calls := 0
	if err := Poll(10*time.Second, func() bool { calls++; return calls == 3 }); err != nil ||
		calls != 3 {
		t.Errorf("Poll of a condition true on the 3rd call = %v after %d calls; want nil after 3",
			err, calls)
	}
	if err := Poll(20*time.Millisecond, func() bool { return false }); err == nil {
		t.Error("Poll of a condition never true = nil, want an error")
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	c := NewClock()
	start := c.Now()
	if want := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Errorf("NewClock().Now() = %v, want %v", start, want)
	}
	steps := []struct {
		advance time.Duration
		want    time.Duration // since start
	}{
		{0, 0},
		{time.Second, time.Second},
		{time.Nanosecond, time.Second + time.Nanosecond},
		{time.Hour, time.Hour + time.Second + time.Nanosecond},
	}
	for _, s := range steps {
		c.Advance(s.advance)
		if got := c.Now().Sub(start); got != s.want {
			t.Errorf("after Advance(%v): %v since start, want %v", s.advance, got, s.want)
		}
	}
}

func TestSyncBufferAndLogger(t *testing.T) {
	t.Parallel()
	var buf SyncBuffer
	log := Logger(t, &buf)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				log.Debug("hello", "n", 1)
				_ = buf.String()
			}
		})
	}
	wg.Wait()
	out := buf.String()
	if got := strings.Count(out, "level=DEBUG msg=hello n=1\n"); got != 80 {
		t.Errorf("%d debug lines, want 80:\n%s", got, out)
	}
}

func TestCounterValue(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_total", Help: "Test."},
		[]string{"cache", "op"})
	reg.MustRegister(c)
	c.WithLabelValues("a", "get").Add(1)
	c.WithLabelValues("a", "set").Add(2)
	c.WithLabelValues("b", "get").Add(4)
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"all labels", "test_total", map[string]string{"cache": "a", "op": "set"}, 2},
		{"some labels", "test_total", map[string]string{"cache": "b"}, 4},
		{"other labels ignored", "test_total", map[string]string{"op": "get", "x": "y"}, 1},
		{"no such value", "test_total", map[string]string{"cache": "c"}, 0},
		{"no such counter", "other_total", nil, 0},
	}
	for _, tt := range tests {
		if got := CounterValue(t, reg, tt.metric, tt.labels); got != tt.want {
			t.Errorf("%s: CounterValue(%s, %v) = %v, want %v", tt.name, tt.metric, tt.labels,
				got, tt.want)
		}
	}
}

func TestForEach(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		made []string
		got  = map[string]string{} // subtest name → value it was given
	)
	backend := func(name string) Backend[string] {
		return Backend[string]{Name: name, New: func(t *testing.T) string {
			mu.Lock()
			defer mu.Unlock()
			made = append(made, name)
			return name + "-value"
		}}
	}
	t.Run("group", func(t *testing.T) {
		ForEach(t, []Backend[string]{backend("a"), backend("b")}, func(t *testing.T, v string) {
			mu.Lock()
			defer mu.Unlock()
			got[t.Name()] = v
		})
	})
	want := map[string]string{"TestForEach/group/a": "a-value", "TestForEach/group/b": "b-value"}
	if !maps.Equal(got, want) {
		t.Errorf("subtests got %v, want %v", got, want)
	}
	if len(made) != 2 {
		t.Errorf("%d values made (%v), want one per backend", len(made), made)
	}
}
