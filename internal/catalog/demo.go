package catalog

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
)

// demoCatalog is the small, believable catalog a new all-in-one starts with:
// a few categories and about fifty products with stock.
//
//go:embed demo_catalog.json
var demoCatalog []byte

// LoadDemo imports the demo catalog into a catalog that has no products yet,
// and reports how many products it added (0 when there were some).
func (s *Service) LoadDemo(ctx context.Context) (int, error) {
	n, err := countProducts(ctx, s.db)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, nil
	}
	f, err := ParseImport("demo_catalog.json", demoCatalog)
	if err != nil {
		return 0, err
	}
	// Replicas that start together on an empty database load it together:
	// a category or product that another one created first is its work, not
	// a bad row.
	res, err := s.Import(ctx, f, nil)
	if errors.Is(err, ErrSlugTaken) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, r := range res.Rejected {
		if !errors.Is(r.Err, ErrSKUTaken) && !errors.Is(r.Err, ErrSlugTaken) {
			return res.Imported, fmt.Errorf("the demo catalog has bad rows: %+v", res.Rejected)
		}
	}
	return res.Imported, nil
}
