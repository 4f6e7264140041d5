package event

// The catalog service's event types.
const (
	ProductUpdated  = "catalog.product.updated"
	CategoryUpdated = "catalog.category.updated"
	StockChanged    = "catalog.stock.changed"
)

// CatalogSource is the source of the catalog service's events; CatalogStream
// is the stream they are published on (subjects catalog.>).
const (
	CatalogSource = "catalog"
	CatalogStream = "CATALOG"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// ProductChanged is the data of catalog.product.updated: sent when a product
// is created and on every change to it, whatever the change (archiving
// included), with the product's new version. An edit that changes nothing
// sends none. A consumer that cares about some fields only compares them, or
// the version, with what it last saw.
type ProductChanged struct {
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Price     Money  `json:"price"`
	Status    string `json:"status"`
	Version   int64  `json:"version"`
}

// StockLevel is the data of catalog.stock.changed: sent when a product's
// available stock crosses zero.
type StockLevel struct {
	ProductID string `json:"product_id"`
	Available int64  `json:"available"`
	InStock   bool   `json:"in_stock"`
}

// CategoryChanged is the data of catalog.category.updated: sent when a
// category is created, changed or deleted, so that every replica drops the
// listings it cached.
type CategoryChanged struct {
	CategoryID string `json:"category_id"`
	Deleted    bool   `json:"deleted"`
}
