package catalog

import (
	"context"
	_ "embed"
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
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM products").Scan(&n); err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, nil
	}
	f, err := ParseImport("demo_catalog.json", demoCatalog)
	if err != nil {
		return 0, err
	}
	res, err := s.Import(ctx, f, nil)
	if err != nil {
		return 0, err
	}
	if len(res.Rejected) > 0 {
		return res.Imported, fmt.Errorf("the demo catalog has bad rows: %+v", res.Rejected)
	}
	return res.Imported, nil
}
