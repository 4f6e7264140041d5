package testkit

import (
	"testing"
)

// Need answers the variable's value; without it, it skips — or fails when
// every component is required.
func TestNeed(t *testing.T) {
	t.Setenv("EMPORIUM_TEST_NEED_X", "there")
	if got := Need(t, "EMPORIUM_TEST_NEED_X", "x"); got != "there" {
		t.Fatalf("Need = %q", got)
	}
	for _, required := range []bool{false, true} {
		var r recorder
		t.Setenv(RequireEnv, map[bool]string{false: "", true: "1"}[required])
		func() {
			defer func() { recover() }() // Skipf and Fatalf stop the goroutine; recorder panics instead
			Need(&r, "EMPORIUM_TEST_NEED_MISSING", "y")
		}()
		if r.skipped == required || r.failed != required {
			t.Errorf("required %v: skipped %v, failed %v", required, r.skipped, r.failed)
		}
	}
}

// recorder is a testing.TB that records a skip or a failure and stops the
// call by panicking, as the real ones stop the goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skipf(string, ...any)  { r.skipped = true; panic("skip") }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic("fatal") }
