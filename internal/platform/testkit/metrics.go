package testkit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// CounterValue returns the value of the first counter named name in g that
// agrees with labels (each of its labels that labels names has the value
// given there; the others may have any value), or 0 when there is none. It
// reports a failure to gather with t.Errorf, not t.Fatalf, so goroutines other
// than the test's may call it.
func CounterValue(t testing.TB, g prometheus.Gatherer, name string,
	labels map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Errorf("gather metrics: %v", err)
		return 0
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
