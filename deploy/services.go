// Package deploy is the one list of Emporium's services that everything under
// deploy/ is made or checked from: the Nginx configurations (deploy/nginx),
// the production topology on one machine (deploy/local), Compose, the
// Kubernetes manifests and the CI workflow's image matrix. The list lives in
// services.json, so that the workflow can read it too; adding a service is a
// new entry there, then `make generate`, and the checks name whatever else
// still lacks it.
package deploy

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

//go:embed services.json
var servicesJSON []byte

// Service is one deployable service.
type Service struct {
	// Name is the service's name: its command is cmd/<Name>, its image
	// emporium-<Name>, its unit name in the runtime, logs and metrics.
	Name string `json:"name"`
	// Paths are what the gateway routes to the service: http.ServeMux
	// patterns without a method, "/api/v1/auth/" for a subtree and
	// "/openapi/identity.yaml" for one path. They are the all-in-one front
	// door's routes (the service's app.Service.Paths).
	Paths []string `json:"paths"`
	// RateLimited are the Paths that Nginx rate-limits per client address.
	RateLimited []string `json:"rate_limited,omitempty"`
	// Replicas is how many processes the local topology runs (at least 1).
	Replicas int `json:"replicas"`
	// Autoscale gives the service a HorizontalPodAutoscaler in Kubernetes.
	Autoscale bool `json:"autoscale,omitempty"`
}

// EnvPrefix is the service's name as environment variables spell it:
// CATALOG for CATALOG_INTERNAL_URL.
func (s Service) EnvPrefix() string { return strings.ToUpper(s.Name) }

// Services returns the list, in the order the services start: a service
// comes after those it calls at start (identity first: every other service
// reads its keys).
func Services() []Service {
	var f struct {
		Services []Service `json:"services"`
	}
	if err := json.Unmarshal(servicesJSON, &f); err != nil {
		panic(fmt.Sprintf("deploy/services.json: %v", err))
	}
	if err := Validate(f.Services); err != nil {
		panic(fmt.Sprintf("deploy/services.json: %v", err))
	}
	return f.Services
}

// Names returns the services' names in order.
func Names() []string {
	var names []string
	for _, s := range Services() {
		names = append(names, s.Name)
	}
	return names
}

var (
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	// pathPattern is what Nginx can route as ServeMux does: literal paths,
	// no wildcards, no methods, no hosts.
	pathPattern = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*$`)
)

// Validate checks a list of services: unique names, paths Nginx can route,
// each path owned by one service, rate-limited paths among the service's own.
func Validate(services []Service) error {
	if len(services) == 0 {
		return fmt.Errorf("no services")
	}
	names := map[string]bool{}
	owner := map[string]string{}
	for _, s := range services {
		if !namePattern.MatchString(s.Name) {
			return fmt.Errorf("service name %q: want lower-case letters and digits", s.Name)
		}
		if names[s.Name] {
			return fmt.Errorf("service %q listed twice", s.Name)
		}
		names[s.Name] = true
		if s.Replicas < 1 {
			return fmt.Errorf("%s: replicas must be at least 1", s.Name)
		}
		if len(s.Paths) == 0 {
			return fmt.Errorf("%s: no paths", s.Name)
		}
		for _, p := range s.Paths {
			if !pathPattern.MatchString(p) || strings.Contains(p, "//") {
				return fmt.Errorf("%s: path %q: want a literal path such as /api/v1/x or /api/v1/x/", s.Name, p)
			}
			if prev, ok := owner[p]; ok {
				return fmt.Errorf("path %q belongs to both %s and %s", p, prev, s.Name)
			}
			owner[p] = s.Name
		}
		for _, p := range s.RateLimited {
			if !slices.Contains(s.Paths, p) {
				return fmt.Errorf("%s: rate-limited path %q is not one of its paths", s.Name, p)
			}
		}
	}
	return nil
}
