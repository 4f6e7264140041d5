package loadtest

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestQuantileOfNoSamples(t *testing.T) {
	var l Latencies
	if got := l.Quantile(0.99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}

// 1..1000 ms in shuffled order: the q-th quantile by nearest rank is q·1000 ms.
func TestQuantileUniform(t *testing.T) {
	var l Latencies
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(1000) {
		l.Add(time.Duration(i+1) * time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.001: 1 * time.Millisecond,
		0.5: 500 * time.Millisecond, 0.9: 900 * time.Millisecond, 0.99: 990 * time.Millisecond,
		0.999: 999 * time.Millisecond, 1: 1000 * time.Millisecond} {
		if got := l.Quantile(q); got != want {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if s := l.Summary(); s.Max != time.Second || s.P50 != 500*time.Millisecond {
		t.Errorf("summary %+v", s)
	}
}

func TestQuantileConstant(t *testing.T) {
	var l Latencies
	for range 777 {
		l.Add(3 * time.Millisecond)
	}
	s := l.Summary()
	if s != (Summary{P50: 3 * time.Millisecond, P90: 3 * time.Millisecond,
		P99: 3 * time.Millisecond, Max: 3 * time.Millisecond}) {
		t.Errorf("summary of a constant: %+v", s)
	}
}

// Random draws from an exponential distribution of mean 10 ms: its q-th
// quantile is -ln(1-q)·10 ms (6.93 ms, 23.0 ms, 46.1 ms for the median, p90
// and p99). 200,000 draws land within 3 % of them.
func TestQuantileExponential(t *testing.T) {
	var l Latencies
	r := rand.New(rand.NewPCG(7, 11))
	const mean = 10 * time.Millisecond
	for range 200_000 {
		l.Add(time.Duration(r.ExpFloat64() * float64(mean)))
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := -math.Log(1-q) * float64(mean)
		got := float64(l.Quantile(q))
		if math.Abs(got-want)/want > 0.03 {
			t.Errorf("quantile %v = %v, want %v ± 3%%", q, time.Duration(got), time.Duration(want))
		}
	}
}

// Merging keeps every sample of both sets, and adding after a quantile was
// read sorts again.
func TestMergeAndAddAfterQuantile(t *testing.T) {
	var a, b Latencies
	for i := range 50 {
		a.Add(time.Duration(i+1) * time.Millisecond)
		b.Add(time.Duration(i+51) * time.Millisecond)
	}
	if got := a.Max(); got != 50*time.Millisecond {
		t.Fatalf("max %v", got)
	}
	a.Merge(&b)
	if a.Len() != 100 || a.Quantile(0.5) != 50*time.Millisecond || a.Max() != 100*time.Millisecond {
		t.Errorf("merged: len %d p50 %v max %v", a.Len(), a.Quantile(0.5), a.Max())
	}
	a.Add(0)
	if got := a.Quantile(0); got != 0 {
		t.Errorf("smallest after an add = %v, want 0", got)
	}
}
