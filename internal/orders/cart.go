package orders

import (
	"context"
	"net/url"

	"emporium/internal/platform/httpclient"
)

// cartClient is this service's view of the cart's internal API: the lines of
// a customer's cart, as stored.
type cartClient struct{ c *httpclient.Client }

// cartItem is a line of a cart: a product and a quantity, unpriced.
type cartItem struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// items returns the lines of the customer's cart; a customer without a cart
// has none.
func (c cartClient) items(ctx context.Context, customerID string) ([]cartItem, error) {
	var out struct {
		Items []cartItem `json:"items"`
	}
	if err := c.c.GetJSON(ctx, "/internal/carts/"+url.PathEscape(customerID), &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}
