package main

import (
	"context"
	"io"
	"maps"
	"testing"

	"emporium/deploy"
	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
	"emporium/internal/platform/testkit"
)

// TestGatewayRoutesAreTheFrontDoors holds Nginx to the front door: the paths
// deploy/services.json routes to each service, from which Nginx's
// configuration is made, are the all-in-one's routes, service by service.
func TestGatewayRoutesAreTheFrontDoors(t *testing.T) {
	t.Setenv("EMPORIUM_DATA_DIR", t.TempDir())
	t.Setenv("EMPORIUM_ADDR", "127.0.0.1:0")
	t.Setenv("EMPORIUM_INTERNAL_ADDR", "127.0.0.1:0")
	t.Setenv("EMPORIUM_DEMO_DATA", "false")
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	units, err := services(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rt, err := app.StartAllInOne(ctx, cfg.AllInOne, units, testkit.Logger(t, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	got := rt.Routes()
	cancel()
	if err := rt.Run(ctx); err != nil {
		t.Error(err)
	}

	want := map[string]string{}
	for _, s := range deploy.Services() {
		for _, p := range s.Paths {
			want[p] = s.Name
		}
	}
	if !maps.Equal(got, want) {
		for p, svc := range got {
			if want[p] != svc {
				t.Errorf("the front door routes %s to %s; deploy/services.json routes it to %q", p, svc, want[p])
			}
		}
		for p, svc := range want {
			if _, ok := got[p]; !ok {
				t.Errorf("deploy/services.json routes %s to %s; the front door does not route it", p, svc)
			}
		}
	}
}
