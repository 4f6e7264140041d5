package cart

import (
	"strconv"
	"strings"

	"emporium/internal/platform/errs"
)

// maxProductID bounds a product id in a request: a UUID is 36 characters.
const maxProductID = 100

// AddItemRequest is the body of POST /api/v1/cart/items.
type AddItemRequest struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Validate checks the fields.
func (r *AddItemRequest) Validate() error {
	var v errs.Validation
	v.Check(r.ProductID != "" && len(r.ProductID) <= maxProductID, "product_id",
		"must be a product id of 1 to 100 characters")
	checkQuantity(&v, r.Quantity, 1)
	return v.Err()
}

// lookable reports whether the product id can name a product at all: the
// catalog's look-up takes a comma-separated list.
func (r *AddItemRequest) lookable() bool { return !strings.Contains(r.ProductID, ",") }

// UpdateItemRequest is the body of PATCH /api/v1/cart/items/{product_id}.
type UpdateItemRequest struct {
	Quantity *int `json:"quantity"`
}

// Validate checks the fields.
func (r *UpdateItemRequest) Validate() error {
	var v errs.Validation
	if r.Quantity == nil {
		v.Add("quantity", "is required")
	} else {
		checkQuantity(&v, *r.Quantity, 0)
	}
	return v.Err()
}

// MergeRequest is the body of POST /api/v1/cart/merge.
type MergeRequest struct {
	CartToken string `json:"cart_token"`
}

// Validate checks the fields. A token that is present but could not name a
// cart is not a validation error: it names no cart (404 cart_not_found),
// like an expired one.
func (r *MergeRequest) Validate() error {
	var v errs.Validation
	v.Check(r.CartToken != "", "cart_token", "is required")
	return v.Err()
}

func checkQuantity(v *errs.Validation, quantity, least int) {
	v.Check(quantity >= least && quantity <= MaxQuantity, "quantity",
		"must be from "+strconv.Itoa(least)+" to "+strconv.Itoa(MaxQuantity))
}
