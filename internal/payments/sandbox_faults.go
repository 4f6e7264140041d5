package payments

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// SandboxFaults are faults the sandbox injects, for fault-injection tests
// only (PAYMENTS_SANDBOX_FAULTS; none by default). Each is the share of
// calls (or events) it strikes, from 0 to 1.
type SandboxFaults struct {
	// Fail is the share of mutating calls that fail before the provider
	// does anything: ErrUnavailable, as a 5xx or a refused connection.
	Fail float64
	// Timeout is the share of mutating calls that the provider carries out
	// but whose answer is lost: ErrUnavailable after the change is made and
	// its events are sent, as a read timeout after Stripe charged.
	Timeout float64
	// Drop is the share of events never delivered: a webhook that never
	// came, which the reconciler must make up for.
	Drop float64
}

// ParseSandboxFaults reads "fail=0.05,timeout=0.1,drop=0.1": any of the
// three, each a share from 0 to 1. An empty string is no faults.
func ParseSandboxFaults(s string) (SandboxFaults, error) {
	var f SandboxFaults
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		share, err := strconv.ParseFloat(value, 64)
		if !ok || err != nil || share < 0 || share > 1 {
			return f, fmt.Errorf("PAYMENTS_SANDBOX_FAULTS: %q is not name=share with a share from 0 to 1", part)
		}
		switch name {
		case "fail":
			f.Fail = share
		case "timeout":
			f.Timeout = share
		case "drop":
			f.Drop = share
		default:
			return f, fmt.Errorf("PAYMENTS_SANDBOX_FAULTS: unknown fault %q (fail, timeout, drop)", name)
		}
	}
	return f, nil
}

// strikes reports whether a fault of the given share strikes this time.
func strikes(share float64) bool { return share > 0 && rand.Float64() < share }
