package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "emporium"

// shared are the directories under internal/ that are not services.
var shared = []string{"platform", "event", "archtest"}

// area names the top-level directory under internal/ that an import path or
// a file path (relative to internal/) belongs to.
func area(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	return first
}

type importEdge struct {
	file, from, to string // from and to are areas under internal/
}

// internalImports lists every import of an emporium/internal/... package made
// by a Go file (tests included) under dir.
func internalImports(t *testing.T, dir string) []importEdge {
	t.Helper()
	var edges []importEdge
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			target, ok := strings.CutPrefix(p, module+"/internal/")
			if !ok {
				continue
			}
			edges = append(edges, importEdge{file: rel, from: area(filepath.ToSlash(rel)), to: area(target)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return edges
}

// violation says what is wrong with an import from one area to another, or "".
func violation(from, to string) string {
	fromService, toService := !slices.Contains(shared, from), !slices.Contains(shared, to)
	switch {
	case from == "platform" && toService:
		return "the platform imports service " + to
	case from == "event" && to != "event":
		return "event payloads import " + to + "; they must stand alone"
	case fromService && toService && from != to:
		return "service " + from + " imports service " + to + "; call it over HTTP instead"
	}
	return ""
}

func TestImportsRunOneWay(t *testing.T) {
	edges := internalImports(t, "..")
	if len(edges) == 0 {
		t.Fatal("found no internal imports; is the test looking in the right place?")
	}
	for _, e := range edges {
		if v := violation(e.from, e.to); v != "" {
			t.Errorf("%s: %s", e.file, v)
		}
	}
}

// TestRuleCatchesViolations checks the rule on made-up edges, so a broken
// classification cannot pass silently.
func TestRuleCatchesViolations(t *testing.T) {
	tests := []struct {
		rel, target string
		want        bool // want a violation
	}{
		{"orders/service.go", "catalog", true},
		{"platform/web/x.go", "identity", true},
		{"event/event.go", "platform", true},
		{"orders/service.go", "platform", false},
		{"orders/service.go", "event", false},
		{"orders/store.go", "orders", false},
		{"platform/bus/x.go", "event", false},
	}
	for _, tt := range tests {
		got := violation(area(tt.rel), area(tt.target)) != ""
		if got != tt.want {
			t.Errorf("%s → %s: violation %v, want %v", tt.rel, tt.target, got, tt.want)
		}
	}
}
