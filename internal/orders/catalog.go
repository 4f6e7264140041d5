package orders

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/httpclient"
)

// catalogClient is this service's view of the catalog's internal API:
// authoritative prices, and the stock reservation of an order.
type catalogClient struct{ c *httpclient.Client }

// product is what checkout needs to know of a product.
type product struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Price     Money  `json:"price"`
	Status    string `json:"status"`
	Available int64  `json:"available"`
}

// shortLine is a line the catalog cannot hold in full, as the catalog and
// API.md's insufficient_stock name it.
type shortLine struct {
	ProductID string `json:"product_id"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// products returns the known products among ids, by id, whatever their status.
func (c catalogClient) products(ctx context.Context, ids []string) (map[string]product, error) {
	var out struct {
		Items []product `json:"items"`
	}
	if err := c.c.GetJSON(ctx, "/internal/products?ids="+url.QueryEscape(strings.Join(ids, ",")),
		&out); err != nil {
		return nil, err
	}
	m := make(map[string]product, len(out.Items))
	for _, p := range out.Items {
		m[p.ID] = p
	}
	return m, nil
}

// reserveItem is one line of a reservation.
type reserveItem struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// reservation is the catalog's reservation, as far as this service reads it.
type reservation struct {
	ID     string `json:"reservation_id"`
	Status string `json:"status"`
}

// errShort is the catalog's insufficient_stock answer to a reservation;
// errShortLines reads its lines.
var errShort = errors.New("insufficient stock")

// reserve holds every item or none until ttlSeconds from now, under id. A
// repeat holds nothing twice. Short stock is an error wrapping errShort and
// the catalog's answer (with its lines).
func (c catalogClient) reserve(ctx context.Context, id string, items []reserveItem,
	ttlSeconds int) error {
	in := map[string]any{"reservation_id": id, "items": items, "ttl_seconds": ttlSeconds}
	err := c.c.PostJSON(ctx, "/internal/reservations", "reserve-"+id, in, nil)
	if hasCode(err, "insufficient_stock") {
		return errors.Join(errShort, err)
	}
	return err
}

// shortLines returns the lines of the catalog's insufficient_stock answer.
func shortLines(err error) []shortLine {
	var e *errs.Error
	if !errors.As(err, &e) {
		return nil
	}
	raw, ok := e.Extra["lines"].(json.RawMessage)
	if !ok {
		return nil
	}
	var lines []shortLine
	if json.Unmarshal(raw, &lines) != nil {
		return nil
	}
	return lines
}

// transition moves the reservation id: "commit", "release" or "restock".
// Each is idempotent at the catalog.
func (c catalogClient) transition(ctx context.Context, id, verb string) error {
	return c.c.PostJSON(ctx, "/internal/reservations/"+url.PathEscape(id)+"/"+verb, verb+"-"+id,
		nil, nil)
}

// reservation reads the reservation id.
func (c catalogClient) reservation(ctx context.Context, id string) (*reservation, error) {
	var r reservation
	if err := c.c.GetJSON(ctx, "/internal/reservations/"+url.PathEscape(id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// hasCode reports whether err is a downstream's answer with the problem code.
func hasCode(err error, code string) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Code == code
}

// isStatus reports whether err is a downstream's answer of the given kind,
// as httpclient maps statuses to kinds (404 NotFound, 409 Conflict).
func isStatus(err error, status int) bool {
	kinds := map[int]errs.Kind{http.StatusNotFound: errs.NotFound, http.StatusConflict: errs.Conflict}
	k, ok := kinds[status]
	return ok && errs.KindOf(err) == k
}
