package check

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// repo is the repository's root, from this package's directory.
const repo = "../.."

// service is an entry of deploy/services.json, as far as the checks need it.
type service struct {
	Name      string `json:"name"`
	Replicas  int    `json:"replicas"`
	Autoscale bool   `json:"autoscale"`
}

// services reads the one list of services (deploy/services.json).
func services(t *testing.T) []service {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "deploy/services.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services []service `json:"services"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Services) == 0 {
		t.Fatal("deploy/services.json lists no service")
	}
	return f.Services
}

func serviceNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, s := range services(t) {
		names = append(names, s.Name)
	}
	return names
}
