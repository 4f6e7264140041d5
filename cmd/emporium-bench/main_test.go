package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"emporium/cmd/emporium-bench/internal/loadtest"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-c", "8", "-d", "2s", "-scenarios", "product, list"})
	if err != nil {
		t.Fatal(err)
	}
	if o.concurrency != 8 || o.duration != 2*time.Second || strings.Join(o.scenarios, ",") != "product,list" ||
		o.rounds != 2 || !o.bare {
		t.Errorf("options %+v", o)
	}
	for _, bad := range [][]string{{"-scenarios", "product,nope"}, {"-c", "0"}, {"-d", "0s"},
		{"-footprint", "-url", "http://127.0.0.1:1"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// Every scenario names its unit and the bare calls that bound it.
func TestScenariosAreComplete(t *testing.T) {
	for _, name := range strings.Split(allScenarios, ",") {
		sc, ok := scenarios[name]
		if !ok || sc.prepare == nil || sc.op == nil || sc.bare == nil || (sc.unit != "req" && sc.unit != "op") {
			t.Errorf("scenario %q is incomplete", name)
		}
	}
	if len(scenarios) != len(strings.Split(allScenarios, ",")) {
		t.Errorf("allScenarios lists %s, the table has %d", allScenarios, len(scenarios))
	}
}

// The bare operation makes its calls in order, each answered with the size asked for.
func TestBareOp(t *testing.T) {
	srv := httptest.NewServer(loadtest.BareHandler())
	defer srv.Close()
	op := bareOp(loadtest.NewClient(1), srv.URL, []bareCall{{"POST", 300, map[string]int{"a": 1}},
		{"GET", 1200, nil}, {"DELETE", 40, nil}})
	if err := op(context.Background(), &loadtest.Worker{}); err != nil {
		t.Fatal(err)
	}
	res := loadtest.Run(context.Background(), loadtest.Config{Concurrency: 2, Duration: 50 * time.Millisecond}, op)
	if res.Ops == 0 || res.ErrorCount() != 0 {
		t.Errorf("ops %d errors %v", res.Ops, res.Errors)
	}
}

// The report gives each target's rate and percentiles, the ratio, and the
// errors by cause, as text and as JSON.
func TestReport(t *testing.T) {
	bare, shop := &loadtest.Result{Elapsed: time.Second}, &loadtest.Result{Elapsed: time.Second,
		Errors: map[string]int{"status 503": 2}}
	for i := range 1000 {
		bare.Ops++
		bare.Latencies.Add(time.Duration(i+1) * time.Microsecond)
		if i%4 == 0 {
			shop.Ops++
			shop.Latencies.Add(time.Duration(i+1) * time.Millisecond)
		}
	}
	r := scenarioReport{Name: "product", Unit: "req", Bare: &targetReport{}, Emporium: &targetReport{}}
	r.Bare.add(bare, 100*time.Millisecond)
	r.Emporium.add(shop, -1)
	r.finish()
	if r.Ratio != 0.25 {
		t.Errorf("ratio %v, want 0.25", r.Ratio)
	}
	rep := &report{Clients: 64, Rounds: 1, Scenarios: []scenarioReport{r},
		Footprint: &footprintReport{ReadyIn: 700 * time.Millisecond,
			Idle: memory{RSS: 50 << 20, Anon: 15 << 20, File: 35 << 20}}}
	var text bytes.Buffer
	if err := rep.write(&text, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1000 req/s", "250 req/s", "25.0 %", "status 503: 2", "VmRSS) 50.0 MiB",
		"RssAnon, its own: 15.0 MiB", "RssFile, the binary's pages: 35.0 MiB", "700.0ms", "100µs"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := rep.write(&js, true); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if s := back.Scenarios[0]; s.Ratio != 0.25 || s.Emporium.Errors["status 503"] != 2 ||
		s.Bare.Latency.P99 != 990*time.Microsecond || s.Bare.CPUPerOp != 100*time.Microsecond ||
		s.Emporium.CPUPerOp != 0 {
		t.Errorf("JSON report %+v", s)
	}
}

// readMemory and cpuTime read a process's resident memory and CPU time from /proc.
func TestReadMemoryAndCPU(t *testing.T) {
	p := &process{}
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = &exec.Cmd{Process: self}
	m, err := p.readMemory()
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS || m.Anon+m.File > m.RSS {
		t.Errorf("memory %+v", m)
	}
	before, err := p.cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if after, err := p.cpuTime(); err != nil || after > before {
			return // some CPU time was spent and counted
		}
	}
	t.Error("the CPU time did not grow while the test spun")
}
