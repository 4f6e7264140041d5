// Package app runs Emporium services: one per process from cmd/<service>, or
// all of them in one process from cmd/emporium. A service package describes
// itself as a Unit; the runtime opens its database and bus, serves its public
// and internal routes behind the middleware stack, relays its outbox, runs its
// consumers and workers, and shuts all of it down in order.
package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Unit is a service as the runtime knows it before it starts.
type Unit struct {
	// Name is the service's name: "identity", "catalog", …; it names the
	// SQLite file in the all-in-one, the logs and the metrics' service label.
	Name string
	// Schemas are the service's own migrations. The runtime adds the outbox
	// and inbox tables.
	Schemas []sqldb.Schema
	// Build makes the service from its dependencies.
	Build func(ctx context.Context, d Deps) (*Service, error)
}

// Deps are what the runtime gives a service to build itself with.
type Deps struct {
	Name     string
	DB       *sqldb.DB
	Bus      *bus.Bus
	Logger   *slog.Logger
	Registry prometheus.Registerer // carries a constant service label
	// Verifier checks customers' access tokens; the runtime also applies it to
	// every public request (auth.Authenticate).
	Verifier *auth.Verifier
	// ServiceToken is the credential for calls to other services' internal
	// routes (auth.ServiceHeader).
	ServiceToken string
	// Peers maps other services' names to their internal base URLs.
	Peers map[string]string
}

// Service is a built service: its routes and what runs beside them.
type Service struct {
	// Public serves the routes the front door exposes. The runtime wraps it in
	// web.Stack and auth.Authenticate and serves /livez and /readyz beside it.
	Public http.Handler
	// Paths are what the front door routes here: http.ServeMux patterns
	// without a method, "/api/v1/auth/" for a subtree, "/x.yaml" for one path.
	Paths []string
	// Internal serves /internal/… routes, behind the service credential; nil
	// when the service has none.
	Internal http.Handler
	// Stream is where the service's outbox is relayed; nil when it publishes
	// no events.
	Stream *bus.StreamConfig
	// Consumers are durable consumers of other services' events.
	Consumers []bus.ConsumerConfig
	// Workers are other loops that run while the service runs (sweepers).
	Workers []Worker
	// Checks are extra readiness checks beside the database and the bus.
	Checks []web.Check
}

// Worker is a named background loop. Run returns when ctx ends; an error, a
// panic or a return before that is logged and Run is started again after a
// pause that grows while it keeps failing (see workerBackoff). A service
// runs its background loops as Workers, never as goroutines of its own, so
// that each is restarted and stopped in order.
type Worker struct {
	Name string
	Run  func(ctx context.Context) error
}
