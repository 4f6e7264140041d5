package cart

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/event"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/httpclient"
)

// product is a catalog product as the cart reads it: the catalog's
// summary of it (view=summary), which is all the cart needs.
type product struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Price     Money  `json:"price"`
	Status    string `json:"status"`
	Available int64  `json:"available"`
}

// forSale reports whether the product may be added to a cart.
func (p product) forSale() bool { return p.Status == "active" }

func (p product) seen() seen { return seen{sku: p.SKU, name: p.Name, price: p.Price} }

// maxLookup is how many ids one catalog look-up may name: the catalog's
// limit, and the most lines a cart holds, so a cart is priced in one call.
const maxLookup = MaxLines

// catalog is the cart's view of the catalog service: products by id, from
// its internal listener, through the resilient client (deadline, retries,
// breaker).
type catalog struct {
	http *httpclient.Client
}

// catalogConfig tunes the calls to the catalog.
type catalogConfig struct {
	// URL is the catalog's internal base URL.
	URL string
	// Timeout bounds one attempt; a GET is tried twice at most, so a catalog
	// that hangs costs a request about twice this before the cart answers
	// without it.
	Timeout time.Duration
	// BreakerFailures failed attempts in a row open the breaker: the cart
	// then answers at once without the catalog, for BreakerOpenFor, before
	// one request tries it again.
	BreakerFailures uint32
	BreakerOpenFor  time.Duration
}

func newCatalog(cfg catalogConfig, serviceToken string, log *slog.Logger, reg prometheus.Registerer) *catalog {
	return &catalog{http: httpclient.New(httpclient.Config{
		Name:        "catalog",
		BaseURL:     cfg.URL,
		Timeout:     cfg.Timeout,
		MaxAttempts: 2,
		Header:      http.Header{auth.ServiceTokenHeader: {serviceToken}},
		Breaker:     httpclient.BreakerConfig{Failures: cfg.BreakerFailures, OpenFor: cfg.BreakerOpenFor},
		Logger:      log,
		Registerer:  reg,
	})}
}

// products looks up at most maxLookup products by id, whatever their
// status, in one call; unknown ids are left out. With cached, the catalog
// answers from its read cache: availability may lag a stock change by up to
// a second, as in its public reads (for pricing a cart to show it); without,
// from its database (for an add, which must not take an archived product).
// When the catalog cannot be reached the error is errs.Unavailable.
func (c *catalog) products(ctx context.Context, ids []string, cached bool) (map[string]product, error) {
	if len(ids) == 0 {
		return map[string]product{}, nil
	}
	if len(ids) > maxLookup {
		return nil, fmt.Errorf("catalog look-up: %d ids, at most %d", len(ids), maxLookup)
	}
	var out struct {
		Items []product `json:"items"`
	}
	path := "/internal/products?view=summary&ids=" + url.QueryEscape(strings.Join(ids, ","))
	if cached {
		path += "&cached=true"
	}
	if err := c.http.GetJSON(ctx, path, &out); err != nil {
		return nil, fmt.Errorf("catalog look-up: %w", err)
	}
	found := make(map[string]product, len(out.Items))
	for _, p := range out.Items {
		found[p.ID] = p
	}
	return found, nil
}

// followCatalog drops the kept summary of a product (see summaries) as soon
// as the catalog announces a change to it — an edit, or its stock running
// out or coming back — so that the change usually shows in the next read
// rather than up to summaryMaxAge later. Every replica reads every event.
// Availability that moves without crossing zero is announced by no event:
// summaryMaxAge alone bounds its lag, as it does when the bus is down.
func (s *Service) followCatalog(b *bus.Bus) func(context.Context) error {
	return func(ctx context.Context) error {
		return b.Follow(ctx, bus.FollowConfig{Stream: event.CatalogStream, Subject: "catalog.>",
			Logger: s.log, Handler: func(ctx context.Context, env event.Envelope) {
				if env.Type != event.ProductUpdated && env.Type != event.StockChanged {
					return
				}
				// Both events name the product so.
				var changed struct {
					ProductID string `json:"product_id"`
				}
				if err := env.Decode(&changed); err != nil || changed.ProductID == "" {
					s.log.WarnContext(ctx, "catalog changes: ignoring a malformed event",
						slog.String("id", env.ID), slog.String("type", env.Type))
					return
				}
				s.summaries.drop(changed.ProductID, s.now())
			}})
	}
}
