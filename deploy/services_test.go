package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestEveryCommandIsDeployed keeps the list equal to the services' commands:
// every cmd/<service> but the all-in-one and the tools beside it
// (cmd/emporium-<tool>, such as emporium-bench) is listed, and every listed
// service has its command. A new service's command fails this test until it is
// listed, and so cannot be left out of Nginx, the topology, the images and
// the end-to-end test.
func TestEveryCommandIsDeployed(t *testing.T) {
	entries, err := os.ReadDir("../cmd")
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, e := range entries {
		// The all-in-one and its tools (emporium-chaos) are not services.
		if e.IsDir() && !strings.HasPrefix(e.Name(), "emporium") {
			commands = append(commands, e.Name())
		}
	}
	listed := slices.Sorted(slices.Values(Names()))
	if !slices.Equal(commands, listed) {
		t.Errorf("cmd/ has %v; deploy/services.json lists %v", commands, listed)
	}
}

func TestValidate(t *testing.T) {
	ok := Service{Name: "a", Paths: []string{"/a/", "/a"}, RateLimited: []string{"/a/"}, Replicas: 1}
	for name, tc := range map[string]struct {
		services []Service
		want     string // in the error; "" for none
	}{
		"the list":        {Services(), ""},
		"valid":           {[]Service{ok}, ""},
		"empty":           {nil, "no services"},
		"twice":           {[]Service{ok, ok}, "listed twice"},
		"shared path":     {[]Service{ok, {Name: "b", Paths: []string{"/a"}, Replicas: 1}}, "belongs to both"},
		"wildcard":        {[]Service{{Name: "b", Paths: []string{"/b/{id}"}, Replicas: 1}}, "literal path"},
		"no replicas":     {[]Service{{Name: "b", Paths: []string{"/b"}}}, "replicas"},
		"foreign limit":   {[]Service{{Name: "b", Paths: []string{"/b"}, RateLimited: []string{"/c"}, Replicas: 1}}, "not one of its paths"},
		"upper-case name": {[]Service{{Name: "B", Paths: []string{"/b"}, Replicas: 1}}, "service name"},
	} {
		err := Validate(tc.services)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v, want %q", name, err, tc.want)
		}
	}
}
