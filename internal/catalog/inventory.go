package catalog

import (
	"context"
	"errors"
	"fmt"

	"emporium/internal/platform/sqldb"
)

// Inventory returns a product's stock.
func (s *Service) Inventory(ctx context.Context, productID string) (*Inventory, error) {
	inv, err := inventoryOf(ctx, s.db, productID)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", productID, err)
	}
	return inv, nil
}

// Adjust changes a product's stock on hand by delta, recording why. Stock on
// hand never falls below what is reserved.
func (s *Service) Adjust(ctx context.Context, productID string, delta int64, reason string) (*Inventory, error) {
	var inv *Inventory
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		s.stockChangedOnCommit(tx, productID)
		inv, err = changeStockRechecked(ctx, tx, stockChange{productID: productID, onHand: delta,
			reason: reason, at: s.clock()})
		if errors.Is(err, errShort) {
			return insufficient([]ShortLine{{ProductID: productID, Requested: -delta, Available: inv.Available}})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adjust inventory %s: %w", productID, err)
	}
	return inv, nil
}
