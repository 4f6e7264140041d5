package effect

import "context"

// Round claims the effects due now and performs them, as one turn of Run
// does, and reports how many it claimed.
func (r *Runner) Round(ctx context.Context) (int, error) {
	n, _, err := r.round(ctx)
	return n, err
}

// Cleanup deletes the effects done more than Retention ago, as Run does
// every hour.
func (r *Runner) Cleanup(ctx context.Context) error { return r.cleanup(ctx) }

// Listening reports whether Run listens for commits of the runner's kinds.
func (r *Runner) Listening() bool { return r.listening.Load() }
