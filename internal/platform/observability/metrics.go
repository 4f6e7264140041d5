package observability

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the collector already
// registered under the same description, so that two components on one
// registry (two buses, a service's public and internal stacks) share their
// metrics instead of failing. A nil reg means a fresh private registry. It
// panics when reg holds an incompatible collector of the same name: a wiring
// mistake.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("register metrics: %v", err))
}
