package catalog

import (
	"strings"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

var errUnknownCategory = errs.Invalidf("category_ids", "names a category that does not exist")

// CreateProductRequest is the body of POST /api/v1/products.
type CreateProductRequest struct {
	SKU         string            `json:"sku"`
	Name        string            `json:"name"`
	Price       Money             `json:"price"`
	Slug        string            `json:"slug"`
	Description string            `json:"description"`
	CategoryIDs []string          `json:"category_ids"`
	Attributes  map[string]string `json:"attributes"`
	Images      []string          `json:"images"`
	Status      string            `json:"status"`
}

// validate checks the fields against the rules; currency is the store's.
func (r *CreateProductRequest) validate(currency string) error {
	var v errs.Validation
	r.Name = strings.TrimSpace(r.Name)
	checkSKU(&v, "sku", r.SKU)
	checkText(&v, "name", r.Name, 1, 200)
	checkPrice(&v, "price", r.Price, currency)
	if r.Slug != "" {
		checkSlug(&v, "slug", r.Slug)
	}
	checkText(&v, "description", r.Description, 0, 5000)
	v.Check(len(r.CategoryIDs) <= 20, "category_ids", "may name at most 20 categories")
	checkAttributes(&v, "attributes", r.Attributes)
	checkImages(&v, "images", r.Images)
	if r.Status == "" {
		r.Status = StatusDraft
	}
	checkStatus(&v, "status", r.Status)
	return v.Err()
}

// UpdateProductRequest is the body of PATCH /api/v1/products/{id}: absent
// fields stay as they are.
type UpdateProductRequest struct {
	SKU         web.Optional[string]            `json:"sku"`
	Name        web.Optional[string]            `json:"name"`
	Price       web.Optional[Money]             `json:"price"`
	Slug        web.Optional[string]            `json:"slug"`
	Description web.Optional[string]            `json:"description"`
	CategoryIDs web.Optional[[]string]          `json:"category_ids"`
	Attributes  web.Optional[map[string]string] `json:"attributes"`
	Images      web.Optional[[]string]          `json:"images"`
	Status      web.Optional[string]            `json:"status"`
}

// apply changes p as the request says, validating what it sets.
func (r *UpdateProductRequest) apply(p *Product, currency string) error {
	var v errs.Validation
	// In the request's field order, so that the answer lists them the same way every time.
	for _, f := range []struct {
		name string
		o    interface{ IsNull() bool }
	}{{"sku", r.SKU}, {"name", r.Name}, {"price", r.Price}, {"slug", r.Slug}, {"category_ids", r.CategoryIDs},
		{"attributes", r.Attributes}, {"images", r.Images}, {"status", r.Status}} {
		v.Check(!f.o.IsNull(), f.name, "cannot be null")
	}
	if err := v.Err(); err != nil {
		return err // a null would fail its field's rules too: report it once
	}
	if r.SKU.Set {
		p.SKU = r.SKU.Value
		checkSKU(&v, "sku", p.SKU)
	}
	if r.Name.Set {
		p.Name = strings.TrimSpace(r.Name.Value)
		checkText(&v, "name", p.Name, 1, 200)
	}
	if r.Price.Set {
		p.Price = r.Price.Value
		checkPrice(&v, "price", p.Price, currency)
	}
	if r.Slug.Set {
		p.Slug = r.Slug.Value
		checkSlug(&v, "slug", p.Slug)
	}
	if r.Description.Set {
		p.Description = r.Description.Value // null clears it
		checkText(&v, "description", p.Description, 0, 5000)
	}
	if r.CategoryIDs.Set {
		p.CategoryIDs = dedupe(r.CategoryIDs.Value)
		v.Check(len(p.CategoryIDs) <= 20, "category_ids", "may name at most 20 categories")
	}
	if r.Attributes.Set {
		p.Attributes = r.Attributes.Value
		checkAttributes(&v, "attributes", p.Attributes)
	}
	if r.Images.Set {
		p.Images = r.Images.Value
		checkImages(&v, "images", p.Images)
	}
	if r.Status.Set {
		p.Status = r.Status.Value
		checkStatus(&v, "status", p.Status)
	}
	return v.Err()
}

// CategoryRequest is the body of POST /api/v1/categories.
type CategoryRequest struct {
	Name     string  `json:"name"`
	Slug     string  `json:"slug"`
	ParentID *string `json:"parent_id"`
	Position int     `json:"position"`
}

// Validate checks the fields.
func (r *CategoryRequest) Validate() error {
	var v errs.Validation
	r.Name = strings.TrimSpace(r.Name)
	checkText(&v, "name", r.Name, 1, 100)
	checkSlug(&v, "slug", r.Slug)
	checkPosition(&v, "position", r.Position)
	return v.Err()
}

// UpdateCategoryRequest is the body of PATCH /api/v1/categories/{id}; a null
// parent_id makes the category a root.
type UpdateCategoryRequest struct {
	Name     web.Optional[string] `json:"name"`
	Slug     web.Optional[string] `json:"slug"`
	ParentID web.Optional[string] `json:"parent_id"`
	Position web.Optional[int]    `json:"position"`
}

// apply changes c as the request says, validating what it sets.
func (r *UpdateCategoryRequest) apply(c *Category) error {
	var v errs.Validation
	v.Check(!r.Name.Null, "name", "cannot be null")
	v.Check(!r.Slug.Null, "slug", "cannot be null")
	v.Check(!r.Position.Null, "position", "cannot be null")
	if r.Name.Set && !r.Name.Null {
		c.Name = strings.TrimSpace(r.Name.Value)
		checkText(&v, "name", c.Name, 1, 100)
	}
	if r.Slug.Set && !r.Slug.Null {
		c.Slug = r.Slug.Value
		checkSlug(&v, "slug", c.Slug)
	}
	if r.ParentID.Set {
		c.ParentID = nil
		if !r.ParentID.Null {
			id := r.ParentID.Value
			c.ParentID = &id
		}
	}
	if r.Position.Set && !r.Position.Null {
		c.Position = r.Position.Value
		checkPosition(&v, "position", c.Position)
	}
	return v.Err()
}

// AdjustmentRequest is the body of POST /api/v1/products/{id}/inventory/adjustments.
type AdjustmentRequest struct {
	Delta  int64  `json:"delta"`
	Reason string `json:"reason"`
}

// Validate checks the fields.
func (r *AdjustmentRequest) Validate() error {
	var v errs.Validation
	v.Check(r.Delta != 0 && r.Delta >= -1_000_000 && r.Delta <= 1_000_000, "delta",
		"must be a non-zero integer from -1000000 to 1000000")
	r.Reason = strings.TrimSpace(r.Reason)
	checkText(&v, "reason", r.Reason, 1, 200)
	return v.Err()
}

// ReserveRequest is the body of POST /internal/reservations.
type ReserveRequest struct {
	ReservationID string `json:"reservation_id"`
	Items         []Line `json:"items"`
	TTLSeconds    int    `json:"ttl_seconds"`
}

// Line is a product and a quantity.
type Line struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// Validate checks the fields.
func (r *ReserveRequest) Validate() error {
	var v errs.Validation
	checkText(&v, "reservation_id", r.ReservationID, 1, 100)
	v.Check(len(r.Items) >= 1 && len(r.Items) <= 100, "items", "must hold 1 to 100 lines")
	seen := map[string]bool{}
	for _, l := range r.Items {
		if seen[l.ProductID] || l.ProductID == "" {
			v.Add("items", "must name each product once")
			break
		}
		seen[l.ProductID] = true
	}
	for _, l := range r.Items {
		if l.Quantity < 1 || l.Quantity > 10000 {
			v.Add("items", "quantities must be from 1 to 10000")
			break
		}
	}
	v.Check(r.TTLSeconds >= 1 && r.TTLSeconds <= 86400, "ttl_seconds", "must be from 1 to 86400")
	return v.Err()
}

func dedupe(xs []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
