package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeEnv is what `docker compose` would find in the environment: the
// secrets the file requires, with made-up values.
var composeEnv = types.Mapping{
	"EMPORIUM_SERVICE_TOKEN":      "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=",
	"IDENTITY_KEY_ENCRYPTION_KEY": "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=",
	"POSTGRES_PASSWORD":           "test",
}

// TestCompose loads deploy/compose.yaml as `docker compose` does and checks
// it against the list of services.
func TestCompose(t *testing.T) {
	raw, sql := composeFiles(t)
	for _, problem := range checkCompose(raw, sql, services(t)) {
		t.Error(problem)
	}
}

// TestComposeCheckCatchesBrokenCopies breaks the Compose file one way at a
// time and expects the check to say so.
func TestComposeCheckCatchesBrokenCopies(t *testing.T) {
	raw, sql := composeFiles(t)
	list := services(t)
	if problems := checkCompose(raw, sql, list); len(problems) > 0 {
		t.Fatalf("the Compose file itself: %v", problems)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"a service left out", "\n  catalog:\n", "\n  catalogue:\n", "catalog"},
		{"no health check", `test: ["CMD", "/probe", "http://127.0.0.1:9090/readyz"]`, `test: ["NONE"]`, "health check"},
		{"not waiting for health", "postgres: {condition: service_healthy}", "postgres: {condition: service_started}", "service_healthy"},
		{"an undefined dependency", "jaeger: {condition: service_started}", "tempo: {condition: service_started}", "tempo"},
		{"a committed secret", "${EMPORIUM_SERVICE_TOKEN:?set EMPORIUM_SERVICE_TOKEN (openssl rand -base64 32)}",
			"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", "secret"},
		{"a published internal port", "deploy: {replicas: 2}", "deploy: {replicas: 2}\n    ports: [\"9090:9090\"]", "publishes"},
		{"no JetStream", `command: ["-js", `, `command: [`, "JetStream"},
		{"not YAML", "services:\n", "services:\n  - [\n", "load"},
		{"the gateway's config", "./nginx/compose.conf:", "./nginx/other.conf:", "compose.conf"},
	} {
		broken := strings.Replace(raw, tc.old, tc.new, 1)
		if broken == raw {
			t.Fatalf("%s: %q is not in compose.yaml; update the test", tc.name, tc.old)
		}
		problems := strings.Join(checkCompose(broken, sql, list), "; ")
		if !strings.Contains(problems, tc.want) {
			t.Errorf("%s: the check said %q, want a problem naming %q", tc.name, problems, tc.want)
		}
	}
	brokenSQL := strings.Replace(sql, "CREATE DATABASE catalog;", "", 1)
	if problems := strings.Join(checkCompose(raw, brokenSQL, list), "; "); !strings.Contains(problems, "database catalog") {
		t.Errorf("a database left out: the check said %q", problems)
	}
}

func composeFiles(t *testing.T) (raw, sql string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "deploy/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.ReadFile(filepath.Join(repo, "deploy/compose/databases.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), string(s)
}

// infrastructure are the Compose services beside Emporium's own.
var infrastructure = []string{"postgres", "nats", "redis", "mailpit", "jaeger", "gateway"}

var secretVars = []string{"EMPORIUM_SERVICE_TOKEN", "IDENTITY_KEY_ENCRYPTION_KEY", "POSTGRES_PASSWORD"}

// checkCompose loads raw (deploy/compose.yaml's text) with compose-go and
// returns what is wrong: every listed service built from the Dockerfile for
// its name, health-checked with the probe, waiting for healthy PostgreSQL,
// NATS and Redis, on its own database (made by databases.sql), publishing
// no port; NATS with JetStream; the gateway on the generated compose.conf,
// the only one published besides the UIs, waiting for every service to be
// healthy; secrets only from the environment.
func checkCompose(raw, databasesSQL string, list []service) []string {
	dir, _ := filepath.Abs(filepath.Join(repo, "deploy"))
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml"), Content: []byte(raw)}},
		Environment: composeEnv,
	}, func(o *loader.Options) { o.SetProjectName("emporium", true) })
	if err != nil {
		return []string{"load: " + err.Error()}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, name := range infrastructure {
		if _, ok := p.Services[name]; !ok {
			add("no %s service", name)
		}
	}
	for _, s := range list {
		svc, ok := p.Services[s.Name]
		if !ok {
			add("no Compose service for %s (deploy/services.json)", s.Name)
			continue
		}
		if svc.Build == nil || svc.Build.Dockerfile != "deploy/docker/Dockerfile" ||
			svc.Build.Args["SERVICE"] == nil || *svc.Build.Args["SERVICE"] != s.Name {
			add("%s is not built from deploy/docker/Dockerfile with SERVICE=%s", s.Name, s.Name)
		}
		if !strings.Contains(svc.Image, "emporium-"+s.Name+":") {
			add("%s's image %q is not emporium-%s", s.Name, svc.Image, s.Name)
		}
		if hc := svc.HealthCheck; hc == nil || hc.Disable || !slices.Contains(hc.Test, "/probe") ||
			!slices.ContainsFunc(hc.Test, func(a string) bool { return strings.HasSuffix(a, ":9090/readyz") }) {
			add("%s has no health check of /readyz on its internal port with /probe", s.Name)
		}
		for _, dep := range []string{"postgres", "nats", "redis"} {
			if d, ok := svc.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
				add("%s does not wait for %s with condition service_healthy", s.Name, dep)
			}
		}
		if len(svc.Ports) > 0 {
			add("%s publishes ports %v: only the gateway is reached from outside", s.Name, svc.Ports)
		}
		db := svc.Environment["DATABASE_URL"]
		if db == nil || !regexp.MustCompile(`@postgres:5432/`+s.Name+`\?`).MatchString(*db) {
			add("%s's DATABASE_URL does not name its own database %s", s.Name, s.Name)
		}
		if !regexp.MustCompile(`(?m)^CREATE DATABASE ` + s.Name + `;`).MatchString(databasesSQL) {
			add("compose/databases.sql does not create database %s", s.Name)
		}
		if s.Replicas > 1 && (svc.Deploy == nil || svc.Deploy.Replicas == nil || *svc.Deploy.Replicas < 2) {
			add("%s runs one replica; deploy/services.json gives it %d", s.Name, s.Replicas)
		}
		if gw, ok := p.Services["gateway"]; ok {
			if d, ok := gw.DependsOn[s.Name]; !ok || d.Condition != types.ServiceConditionHealthy {
				add("the gateway does not wait for %s with condition service_healthy", s.Name)
			}
		}
	}
	for name, svc := range p.Services {
		for dep, d := range svc.DependsOn {
			if other, ok := p.Services[dep]; ok && other.HealthCheck != nil && !other.HealthCheck.Disable &&
				d.Condition != types.ServiceConditionHealthy {
				add("%s waits for %s with %s; it has a health check: use service_healthy", name, dep, d.Condition)
			}
		}
	}
	if nats, ok := p.Services["nats"]; ok && !slices.Contains(nats.Command, "-js") {
		add("NATS runs without JetStream (-js)")
	}
	if gw, ok := p.Services["gateway"]; ok {
		if !slices.ContainsFunc(gw.Volumes, func(v types.ServiceVolumeConfig) bool {
			return strings.HasSuffix(v.Source, "/deploy/nginx/compose.conf") && v.Target == "/etc/nginx/nginx.conf"
		}) {
			add("the gateway does not run deploy/nginx/compose.conf (generated from deploy/services.json)")
		}
		if !slices.ContainsFunc(gw.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 8080 }) {
			add("the gateway does not publish its port 8080")
		}
	}
	for _, v := range secretVars {
		if m := regexp.MustCompile(`(?m)^\s*`+v+`:\s*(.*)$`).FindAllStringSubmatch(raw, -1); len(m) == 0 {
			add("%s is not set anywhere", v)
		} else {
			for _, kv := range m {
				if !strings.HasPrefix(kv[1], "${"+v) {
					add("%s has a committed secret value; take it from the environment (${%s:?...})", v, v)
				}
			}
		}
	}
	return problems
}
