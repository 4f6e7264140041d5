package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestWorkflows lints every GitHub Actions workflow with the pinned
// actionlint and checks the pipeline: tests with PostgreSQL, Redis and NATS
// beside them, one image per service pushed to Docker Hub, a rollout of the
// prod overlay, secrets by name only.
func TestWorkflows(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(repo, ".github/workflows/*.y*ml"))
	if len(paths) == 0 {
		t.Fatal("no workflow in .github/workflows")
	}
	var texts []string
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
		if out, err := actionlint(t, path); err != nil {
			t.Errorf("actionlint %s: %v\n%s", path, err, out)
		}
	}
	for _, problem := range checkPipeline(texts) {
		t.Error(problem)
	}
}

// TestWorkflowChecksCatchBrokenCopies breaks the workflow one way at a time
// and expects actionlint or the pipeline check to say so.
func TestWorkflowChecksCatchBrokenCopies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo, ".github/workflows/ci.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	for _, tc := range []struct{ name, old, new, want string }{
		{"a typo in an expression", "SERVICE=${{ matrix.service }}", "SERVICE=${{ matrix.servce }}", "servce"},
		{"an input the action lacks", "file: deploy/docker/Dockerfile", "dockerfile: deploy/docker/Dockerfile", "dockerfile"},
		{"a job that does not exist", "needs: [images, services]", "needs: [image, services]", "image"},
		{"not YAML", "jobs:\n", "jobs:\n  - [\n", "actionlint"},
		{"no push", "push: true", "push: false", "push"},
		{"no rollout status", `kubectl -n emporium rollout status "deployment/$d" --timeout=10m`, `echo "$d"`, "rollout status"},
		{"no Redis", "      redis:\n        image: redis:7-alpine\n", "      cache:\n        image: redis:7-alpine\n", "redis"},
		{"no JetStream", "nats:2.10-alpine -js", "nats:2.10-alpine", "JetStream"},
		{"a committed password", "password: ${{ secrets.DOCKERHUB_TOKEN }}", "password: dckr_pat_abcdef", "secret"},
		{"images of one service", "service: ${{ fromJSON(needs.services.outputs.names) }}", "service: [identity]", "deploy/services.json"},
		{"no end-to-end test", "      - run: make e2e\n", "", "make e2e"},
	} {
		broken := strings.Replace(good, tc.old, tc.new, 1)
		if broken == good {
			t.Fatalf("%s: %q is not in ci.yaml; update the test", tc.name, tc.old)
		}
		dir := filepath.Join(t.TempDir(), ".github", "workflows")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "ci.yaml")
		if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		var said []string
		if out, err := actionlint(t, path); err != nil {
			said = append(said, "actionlint: "+out)
		}
		said = append(said, checkPipeline([]string{broken})...)
		if all := strings.Join(said, "; "); !strings.Contains(all, tc.want) {
			t.Errorf("%s: the checks said %q, want a problem naming %q", tc.name, all, tc.want)
		}
	}
}

// actionlint runs the pinned actionlint (deploy/check/actionlint) on path.
func actionlint(t *testing.T, path string) (string, error) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "actionlint", "-no-color", abs)
	cmd.Dir = "actionlint"
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type workflow struct {
	Jobs map[string]struct {
		Services map[string]any `json:"services"`
		Strategy struct {
			Matrix map[string]any `json:"matrix"`
		} `json:"strategy"`
		Steps []struct {
			Uses string            `json:"uses"`
			Run  string            `json:"run"`
			With map[string]any    `json:"with"`
			Env  map[string]string `json:"env"`
		} `json:"steps"`
	} `json:"jobs"`
}

var (
	secretExpr = regexp.MustCompile(`^\$\{\{\s*secrets\.[A-Z0-9_]+\s*\}\}$`)
	secretKey  = regexp.MustCompile(`(?i)(password|token|secret|api[-_]?key)`)
)

// checkPipeline returns what the workflows lack.
func checkPipeline(texts []string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var tested, natsJS, e2e, pushed, applied, rolled bool
	var services []string
	for _, text := range texts {
		var w workflow
		if err := yaml.Unmarshal([]byte(text), &w); err != nil {
			add("not a workflow: %v", err)
			continue
		}
		for name, job := range w.Jobs {
			var runs string
			for _, s := range job.Steps {
				runs += s.Run + "\n"
				for k, v := range s.With {
					if str, ok := v.(string); ok && secretKey.MatchString(k) && !secretExpr.MatchString(str) {
						add("job %s: %s of %s is not ${{ secrets.NAME }}: a secret value is never committed", name, k, s.Uses)
					}
				}
				for k, v := range s.Env {
					if secretKey.MatchString(k) && !strings.Contains(v, "secrets.") {
						add("job %s: env %s is not from secrets: a secret value is never committed", name, k)
					}
				}
				if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
					pushed = checkImageStep(name, job.Strategy.Matrix, s.With, add) || pushed
				}
			}
			if strings.Contains(runs, "make test") {
				tested = true
				for svc := range job.Services {
					services = append(services, svc)
				}
				natsJS = slices.Contains(services, "nats") ||
					regexp.MustCompile(`docker run [^\n]*nats:[^\n]* -js`).MatchString(runs)
			}
			e2e = e2e || strings.Contains(runs, "make e2e")
			applied = applied || strings.Contains(runs, "kubectl apply -k deploy/k8s/overlays/prod")
			rolled = rolled || strings.Contains(runs, "rollout status")
		}
	}
	switch {
	case !tested:
		add("no job runs make test")
	case !slices.Contains(services, "postgres") || !slices.Contains(services, "redis"):
		add("the job that runs make test has services %v; want postgres and redis", services)
	case !natsJS:
		add("the job that runs make test has no NATS with JetStream (a nats service, or a step " +
			"that runs a nats image with -js)")
	}
	if !e2e {
		add("no job runs make e2e")
	}
	if !pushed {
		add("no job builds and pushes the images (docker/build-push-action with push: true)")
	}
	if !applied {
		add("no job applies the prod overlay (kubectl apply -k deploy/k8s/overlays/prod)")
	}
	if !rolled {
		add("no job waits for the rollout (kubectl rollout status)")
	}
	return problems
}

// checkImageStep checks the step that builds the images: one per service of
// deploy/services.json (a matrix read from it), from the Dockerfile, pushed.
func checkImageStep(job string, matrix map[string]any, with map[string]any, add func(string, ...any)) bool {
	if with["push"] != true {
		add("job %s builds images without push: true", job)
		return false
	}
	if with["file"] != "deploy/docker/Dockerfile" {
		add("job %s does not build deploy/docker/Dockerfile", job)
	}
	if args, _ := with["build-args"].(string); !strings.Contains(args, "SERVICE=${{ matrix.service }}") {
		add("job %s does not pass SERVICE=${{ matrix.service }}", job)
	}
	if tags, _ := with["tags"].(string); tags == "" {
		add("job %s pushes without tags", job)
	}
	if m, _ := matrix["service"].(string); !strings.Contains(m, "fromJSON(needs.") {
		add("job %s's matrix is not the list of services read from deploy/services.json", job)
	}
	return true
}
