package check

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerfiles are every Dockerfile in the repository.
func dockerfiles(t *testing.T) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(repo, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "tmp" || d.Name() == "data") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (d.Name() == "Dockerfile" || strings.HasSuffix(d.Name(), ".Dockerfile")) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("no Dockerfile in the repository")
	}
	return found
}

// TestDockerfiles lints every Dockerfile.
func TestDockerfiles(t *testing.T) {
	for _, path := range dockerfiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range lintDockerfile(string(b)) {
			t.Errorf("%s: %s", path, problem)
		}
	}
}

// TestDockerfileLintCatchesBrokenCopies breaks each rule in a copy of the
// service Dockerfile and expects the lint to name it.
func TestDockerfileLintCatchesBrokenCopies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo, "deploy/docker/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	if problems := lintDockerfile(good); len(problems) > 0 {
		t.Fatalf("the Dockerfile itself: %v", problems)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"cgo", "CGO_ENABLED=0 go build", "go build", "without CGO_ENABLED=0"},
		{"root user", "USER 65532:65532", "USER root", "runs as root"},
		{"no user", "USER 65532:65532\n", "", "no USER"},
		{"healthcheck", "ENTRYPOINT", "HEALTHCHECK CMD [\"/service\", \"health\"]\nENTRYPOINT", "HEALTHCHECK"},
		{"shell base", "FROM scratch AS service", "FROM debian:bookworm-slim AS service", "final stage from"},
		{"shell form", `ENTRYPOINT ["/service"]`, "ENTRYPOINT /service", "shell form"},
		{"run in final", "USER 65532:65532", "RUN [\"/service\", \"migrate\"]\nUSER 65532:65532", "RUN in the final stage"},
		{"label", `org.opencontainers.image.revision="${REVISION}" \`, `\`, "org.opencontainers.image.revision"},
		{"certificates", "COPY --from=binaries /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n", "", "CA certificates"},
		{"syntax", "FROM scratch AS service", "FROM scratch AS service\nCOPY --chown", "parse"},
	} {
		broken := strings.Replace(good, tc.old, tc.new, 1)
		if broken == good {
			t.Fatalf("%s: %q is not in the Dockerfile; update the test", tc.name, tc.old)
		}
		problems := strings.Join(lintDockerfile(broken), "; ")
		if !strings.Contains(problems, tc.want) {
			t.Errorf("%s: lint said %q, want a problem naming %q", tc.name, problems, tc.want)
		}
	}
}

// requiredLabels are the OCI labels every image carries.
var requiredLabels = []string{"org.opencontainers.image.title", "org.opencontainers.image.source",
	"org.opencontainers.image.version", "org.opencontainers.image.revision",
	"org.opencontainers.image.created", "org.opencontainers.image.description"}

// finalBases are the bases an image may run on: nothing, or distroless's
// static image; neither has a shell.
var finalBases = regexp.MustCompile(`^(scratch|gcr\.io/distroless/static(-debian\d+)?(:nonroot)?(@sha256:[0-9a-f]{64})?)$`)

// lintDockerfile returns what breaks the rules for a service image: a static
// Go binary (CGO_ENABLED=0 on every go build), a final stage from scratch or
// distroless static, with no RUN (no shell to run it), the CA certificates,
// a non-root USER, an exec-form ENTRYPOINT, the OCI labels, and no
// HEALTHCHECK (the probes do that).
func lintDockerfile(text string) []string {
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	if len(stages) == 0 {
		return []string{"no stage"}
	}
	var problems []string
	for _, s := range stages {
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if strings.Count(line, "go build") != strings.Count(line, "CGO_ENABLED=0 go build") {
					problems = append(problems, fmt.Sprintf("stage %q: go build without CGO_ENABLED=0: %s", s.Name, line))
				}
			case *instructions.HealthCheckCommand:
				problems = append(problems, fmt.Sprintf("stage %q: HEALTHCHECK: the orchestrator's probes check health", s.Name))
			}
		}
	}
	final := stages[len(stages)-1]
	if !finalBases.MatchString(final.BaseName) {
		problems = append(problems, fmt.Sprintf("final stage from %q: want scratch or distroless static (no shell)", final.BaseName))
	}
	var user, entrypoint, certificates bool
	labels := map[string]bool{}
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			problems = append(problems, "RUN in the final stage: it has no shell, and should have none")
		case *instructions.UserCommand:
			user = true
			name, _, _ := strings.Cut(c.User, ":")
			if name == "root" || name == "0" || name == "" {
				problems = append(problems, "the final stage runs as root: "+c.User)
			}
		case *instructions.EntrypointCommand:
			entrypoint = true
			if c.PrependShell {
				problems = append(problems, "ENTRYPOINT in shell form: there is no shell; use the exec form")
			}
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = true
			}
		case *instructions.CopyCommand:
			if c.DestPath == "/etc/ssl/certs/ca-certificates.crt" || c.DestPath == "/etc/ssl/certs/" {
				certificates = true
			}
		}
	}
	if !user {
		problems = append(problems, "no USER in the final stage: it would run as root")
	}
	if !entrypoint {
		problems = append(problems, "no ENTRYPOINT in the final stage")
	}
	if !certificates && final.BaseName == "scratch" {
		problems = append(problems, "no CA certificates in a final stage from scratch")
	}
	for _, l := range requiredLabels {
		if !labels[l] {
			problems = append(problems, "no label "+l)
		}
	}
	return problems
}
