package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/testkit"
)

// restarts returns the log lines of a supervisor's restarts, in order.
func restarts(t *testing.T, logs *testkit.SyncBuffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if strings.HasSuffix(line["msg"].(string), "restarting") {
			lines = append(lines, line)
		}
	}
	return lines
}

// testSupervisor restarts at once after 1ms, 2ms, 4ms, 4ms… (no jitter), on
// clock's time.
func testSupervisor(logs *testkit.SyncBuffer, clock *testkit.Clock) supervisor {
	return supervisor{
		log:     slog.New(slog.NewJSONHandler(logs, nil)),
		backoff: backoff.Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond},
		steady:  time.Minute,
		now:     clock.Now,
	}
}

func TestSupervisorRestartsAfterPanicsAndErrors(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	sv := testSupervisor(&logs, testkit.NewClock())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int32
	w := Worker{Name: "flaky", Run: func(ctx context.Context) error {
		switch runs.Add(1) {
		case 1:
			panic("boom")
		case 2:
			return errors.New("outage")
		case 3:
			var m map[string]int
			m["nil map"] = 1 // a runtime error, not a panic call
		case 4:
			return nil // returned before shutdown
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	done := make(chan struct{})
	go func() { sv.run(ctx, w); close(done) }()
	testkit.Eventually(t, 10*time.Second, func() bool { return runs.Load() == 5 },
		"the worker did not run a fifth time (ran %d times)", runs.Load())
	cancel()
	<-done

	got := restarts(t, &logs)
	want := []struct {
		msg, pause string
	}{
		{"worker panicked; restarting", "1ms"},
		{"worker stopped; restarting", "2ms"},
		{"worker panicked; restarting", "4ms"},
		{"worker returned before shutdown; restarting", "4ms"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d restarts logged, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		pause := time.Duration(got[i]["pause"].(float64)).String()
		if got[i]["msg"] != w.msg || pause != w.pause || got[i]["worker"] != "flaky" {
			t.Errorf("restart %d: %v %s, want %q after %s", i+1, got[i]["msg"], pause, w.msg, w.pause)
		}
	}
	if s, _ := got[0]["stack"].(string); got[0]["panic"] != "boom" || !strings.Contains(s, "worker_test.go") {
		t.Errorf("panic logged as %v with stack %q, want boom and the worker's stack", got[0]["panic"], s)
	}
}

func TestSupervisorPausesStartOverAfterASteadyRun(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	clock := testkit.NewClock()
	sv := testSupervisor(&logs, clock)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int32
	w := Worker{Name: "steady", Run: func(ctx context.Context) error {
		switch runs.Add(1) {
		case 1, 2:
			return errors.New("quick failure")
		case 3:
			clock.Advance(time.Minute) // ran fine for a minute, then failed
			return errors.New("late failure")
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	done := make(chan struct{})
	go func() { sv.run(ctx, w); close(done) }()
	testkit.Eventually(t, 10*time.Second, func() bool { return runs.Load() == 4 },
		"the worker did not run a fourth time")
	cancel()
	<-done
	var pauses []string
	for _, line := range restarts(t, &logs) {
		pauses = append(pauses, time.Duration(line["pause"].(float64)).String())
	}
	if got, want := strings.Join(pauses, " "), "1ms 2ms 1ms"; got != want {
		t.Errorf("pauses %s, want %s", got, want)
	}
}

func TestSupervisorStopsDuringAPause(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	sv := testSupervisor(&logs, testkit.NewClock())
	sv.backoff = backoff.Policy{Initial: time.Hour, Max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan struct{})
	w := Worker{Name: "down", Run: func(context.Context) error {
		close(failed) // a second run would panic here
		return errors.New("down")
	}}
	done := make(chan struct{})
	go func() { sv.run(ctx, w); close(done) }()
	<-failed
	cancel()
	<-done
}
