package testkit

import (
	"os"
	"testing"
)

// RequireEnv names the variable that, when set (.ci/run sets it), turns a
// missing component from a skipped test into a failed one: in CI a test
// skipped for want of PostgreSQL, Redis or stripe-mock would prove nothing.
const RequireEnv = "EMPORIUM_TEST_REQUIRE_ALL"

// Required reports whether every component must be there (RequireEnv set).
func Required() bool { return os.Getenv(RequireEnv) != "" }

// Need returns the value of env, which points a test at a real component
// (what names it). When env is unset the test is skipped, or fails when
// RequireEnv is set.
func Need(t testing.TB, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if Required() {
			t.Fatalf("%s is not set: this test needs %s, and %s says every component is required",
				env, what, RequireEnv)
		}
		t.Skipf("%s is not set: this test needs %s", env, what)
	}
	return v
}
