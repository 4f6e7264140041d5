package local

import (
	"slices"
	"testing"

	"emporium/deploy"
)

// TestRoutes: with Route, a service reaches its database, NATS, Redis and
// every other service's internal port at the addresses Route gives; without
// it, where the topology put them.
func TestRoutes(t *testing.T) {
	services := []deploy.Service{{Name: "orders", Replicas: 1}, {Name: "catalog", Replicas: 1}}
	internal := map[string]string{"orders": "127.0.0.1:9001", "catalog": "127.0.0.1:9002"}
	topo := &Topology{cfg: Config{Services: services, NATSURL: "nats://127.0.0.1:4222",
		RedisURL: "redis://127.0.0.1:6379/0"}}
	if env, err := topo.routes("orders", "postgres://u@127.0.0.1:5432/db", internal); err != nil || env != nil {
		t.Fatalf("without Route: %v, %v; want nothing", env, err)
	}
	var asked []string
	topo.cfg.Route = func(service, dependency, addr string) (string, error) {
		asked = append(asked, service+" "+dependency+" "+addr)
		return "127.0.0.1:7" + addr[len(addr)-3:], nil
	}
	got, err := topo.routes("orders", "postgres://u@127.0.0.1:5432/db?sslmode=disable", internal)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"DATABASE_URL=postgres://u@127.0.0.1:7432/db?sslmode=disable",
		"NATS_URL=nats://127.0.0.1:7222", "REDIS_URL=redis://127.0.0.1:7379/0",
		"CATALOG_INTERNAL_URL=http://127.0.0.1:7002"}
	if !slices.Equal(got, want) {
		t.Errorf("routes = %q\nwant %q", got, want)
	}
	if !slices.Contains(asked, "orders catalog 127.0.0.1:9002") || slices.Contains(asked, "orders orders 127.0.0.1:9001") {
		t.Errorf("Route was asked %q; want every dependency but the service itself", asked)
	}
}
