package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"emporium/cmd/emporium-bench/internal/loadtest"
)

// report is everything one invocation measured; -json prints it as it is.
type report struct {
	Date      string        `json:"date"`
	CPUs      int           `json:"cpus"`
	GoVersion string        `json:"go_version"`
	Target    string        `json:"target"`
	Clients   int           `json:"clients"`
	Duration  time.Duration `json:"duration_ns"`
	Warmup    time.Duration `json:"warmup_ns"`
	Rounds    int           `json:"rounds"`
	// LoadAverage is the machine's 1-minute load average at the start and at
	// the end: other work on the machine takes the CPUs from the shop more
	// than from the bare server.
	LoadAverage [2]float64       `json:"load_average"`
	Footprint   *footprintReport `json:"footprint,omitempty"`
	Scenarios   []scenarioReport `json:"scenarios,omitempty"`
}

// footprintReport is the started all-in-one's start and memory.
type footprintReport struct {
	ReadyIn   time.Duration `json:"ready_in_ns"` // from exec to the first 200 of /readyz
	Settle    time.Duration `json:"settle_ns"`   // how long after ready Idle was read
	Idle      memory        `json:"idle"`
	AfterLoad *memory       `json:"after_load,omitempty"`
}

// scenarioReport is one scenario's results against both targets.
type scenarioReport struct {
	Name     string        `json:"name"`
	Unit     string        `json:"unit"`
	About    string        `json:"about"`
	Bare     *targetReport `json:"bare,omitempty"`
	Emporium *targetReport `json:"emporium"`
	// Ratio is Emporium's rate over the bare server's, all rounds together.
	Ratio float64 `json:"ratio,omitempty"`
	// Steps are the latencies of an operation's steps against Emporium, all
	// rounds and their warm-ups together (checkout's).
	Steps map[string]loadtest.Summary `json:"steps,omitempty"`
}

// targetReport is one target's rounds of a scenario and their sum.
type targetReport struct {
	Rate       float64          `json:"rate"` // operations per second, all rounds
	RoundRates []float64        `json:"round_rates"`
	Ops        int              `json:"ops"`
	Latency    loadtest.Summary `json:"latency"`
	Errors     map[string]int   `json:"errors,omitempty"`
	// ErrorExamples holds the first error of each cause, whole.
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// CPUPerOp is the server's CPU time (user and system) per successful
	// operation, when this tool started the server; 0 when unknown. It is
	// less at the mercy of other work on the machine than the rate.
	CPUPerOp time.Duration `json:"cpu_per_op_ns,omitempty"`
	all      loadtest.Result
	cpu      time.Duration // summed over the rounds; -1 when unknown
}

// add records a round, and the CPU time the server spent in it (-1: unknown).
func (t *targetReport) add(r *loadtest.Result, cpu time.Duration) {
	t.RoundRates = append(t.RoundRates, r.Rate())
	t.all.Merge(r)
	if cpu < 0 || t.cpu < 0 {
		t.cpu = -1
	} else {
		t.cpu += cpu
	}
}

func (r *scenarioReport) finish() {
	for _, t := range []*targetReport{r.Bare, r.Emporium} {
		if t != nil {
			t.Rate, t.Ops, t.Errors, t.ErrorExamples = t.all.Rate(), t.all.Ops, t.all.Errors, t.all.Examples
			t.Latency = t.all.Latencies.Summary()
			if t.cpu > 0 && t.Ops > 0 {
				t.CPUPerOp = t.cpu / time.Duration(t.Ops)
			}
		}
	}
	if r.Bare != nil && r.Bare.Rate > 0 {
		r.Ratio = r.Emporium.Rate / r.Bare.Rate
	}
}

func (rep *report) write(out io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "emporium-bench %s: %s\n", rep.Date, rep.Target)
	fmt.Fprintf(out, "%d CPUs (load average %.1f at the start, %.1f at the end), %s; %d clients, "+
		"%s measured after %s warm-up, %d rounds alternating bare and emporium\n", rep.CPUs,
		rep.LoadAverage[0], rep.LoadAverage[1], rep.GoVersion, rep.Clients, rep.Duration, rep.Warmup,
		rep.Rounds)
	if f := rep.Footprint; f != nil {
		fmt.Fprintf(out, "all-in-one: ready in %s; resident (VmRSS) %s when idle, %s after ready "+
			"(RssAnon, its own: %s; RssFile, the binary's pages: %s)", fmtDur(f.ReadyIn),
			fmtBytes(f.Idle.RSS), f.Settle, fmtBytes(f.Idle.Anon), fmtBytes(f.Idle.File))
		if f.AfterLoad != nil {
			fmt.Fprintf(out, ", %s after the load (peak %s)", fmtBytes(f.AfterLoad.RSS), fmtBytes(f.AfterLoad.Peak))
		}
		fmt.Fprintln(out)
	}
	if len(rep.Scenarios) == 0 {
		return nil
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\ttarget\trate\tp50\tp90\tp99\tmax\tvs bare\tcpu/op\terrors\t")
	for _, s := range rep.Scenarios {
		for _, t := range []struct {
			name string
			r    *targetReport
		}{{"bare", s.Bare}, {"emporium", s.Emporium}} {
			if t.r == nil {
				continue
			}
			ratio := ""
			if t.name == "emporium" && s.Bare != nil {
				ratio = fmt.Sprintf("%.1f %%", 100*s.Ratio)
			}
			l, cpu := t.r.Latency, "–"
			if t.r.CPUPerOp > 0 {
				cpu = fmtDur(t.r.CPUPerOp)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f %s/s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, t.name, t.r.Rate,
				s.Unit, fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.Max), ratio, cpu,
				fmtErrors(t.r.Errors))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Scenarios {
		if len(s.Steps) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s's steps against emporium (warm-ups included):\n", s.Name)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  step\tp50\tp90\tp99\tmax")
		for _, name := range slices.Sorted(maps.Keys(s.Steps)) {
			l := s.Steps[name]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.Max))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// loadAverage is the machine's load average over the last minute, or 0.
func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(raw), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

func fmtErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "0"
	}
	var parts []string
	for _, cause := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s: %d", cause, errs[cause]))
	}
	return strings.Join(parts, ", ")
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

func fmtBytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
