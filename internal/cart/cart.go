// Package cart is the cart service: one cart per customer and guest carts
// named by a token, priced from the catalog each time they are read, merged
// into the customer's cart at login, and emptied of what an order bought.
//
// A cart keeps what the customer chose — products and quantities — and, for
// each line, the product's SKU, name and price as last seen in the catalog.
// Prices are never the cart's to decide: every read answers what the catalog
// said less than a second before — the cart keeps its answers that long (see
// summaries) and asks about the rest of the cart in one call. The stored
// copy is only for when the catalog cannot answer: the read then says so
// ("stale": true) and shows the last known names and prices.
package cart

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
)

// The limits of a cart (API.md).
const (
	// MaxQuantity is the most units one line may hold.
	MaxQuantity = 99
	// MaxLines is the most lines a cart may hold.
	MaxLines = 100
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money = event.Money

// Cart is a cart as a client sees it: priced from the catalog.
type Cart struct {
	ID        string    `json:"id"`
	Items     []Item    `json:"items"`
	Subtotal  Money     `json:"subtotal"`
	ItemCount int       `json:"item_count"`
	UpdatedAt time.Time `json:"updated_at"`
	// Stale is set when the catalog could not be reached: names, SKUs and
	// prices are the last known ones, and availability is unknown (0).
	Stale bool `json:"stale,omitempty"`
}

// Item is one line of a priced cart.
type Item struct {
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	UnitPrice Money  `json:"unit_price"`
	Quantity  int    `json:"quantity"`
	LineTotal Money  `json:"line_total"`
	// Available is the units the catalog can sell now: 0 for a product that
	// is no longer active (archived, back to draft, or gone), and while the
	// catalog cannot be reached.
	Available int64 `json:"available"`
}

// Merged is the answer to a merge: the customer's cart, and the guest lines
// that did not fit in it.
type Merged struct {
	Cart
	Dropped []Dropped `json:"dropped"`
}

// Dropped is a guest line left out of a merge because the customer's cart
// was full.
type Dropped struct {
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
}

// Stored is a customer's cart as stored, unpriced: what the orders service
// reads at checkout.
type Stored struct {
	CustomerID string       `json:"customer_id"`
	Items      []StoredLine `json:"items"`
	// UpdatedAt is absent for a customer who has no cart yet.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// StoredLine is a product and its quantity.
type StoredLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// The service's errors, with API.md's codes.
var (
	ErrProductNotFound = errs.New(errs.NotFound, "product_not_found",
		"no such product for sale")
	ErrLineNotFound = errs.New(errs.NotFound, "line_not_found", "this product is not in the cart")
	ErrCartNotFound = errs.New(errs.NotFound, "cart_not_found",
		"no cart has this token: it is unknown, expired, or was merged")
	ErrCartFull = errs.New(errs.Invalid, "cart_full", "the cart holds 100 lines, the most it may")
)

// tooMany is the error for a line that would hold more than MaxQuantity.
func tooMany(field string) error {
	return errs.Invalidf(field, "the line would hold more than %d units", MaxQuantity)
}

// seen is a product as the catalog last described it to the cart.
type seen struct {
	sku, name string
	price     Money
}

// line is one product in a stored cart.
type line struct {
	productID string
	quantity  int
	position  int // the order lines were added in
	seen      seen
}

// cart is a cart as stored: its lines in the order they were added. Its
// methods keep the limits; the store writes what they changed.
type cart struct {
	id         string
	customerID string // "" for a guest cart
	createdAt  time.Time
	updatedAt  time.Time
	lines      []line
}

// clone returns a copy of c that shares nothing with it.
func (c *cart) clone() *cart {
	d := *c
	d.lines = append([]line(nil), c.lines...)
	return &d
}

func (c *cart) find(productID string) int {
	for i, l := range c.lines {
		if l.productID == productID {
			return i
		}
	}
	return -1
}

func (c *cart) nextPosition() int {
	n := 0
	for _, l := range c.lines {
		n = max(n, l.position)
	}
	return n + 1
}

// add puts quantity more units of a product in the cart: on its line, whose
// total may not pass MaxQuantity, or on a new line, of which the cart may not
// hold more than MaxLines (ErrCartFull).
func (c *cart) add(productID string, quantity int, s seen) error {
	if i := c.find(productID); i >= 0 {
		if c.lines[i].quantity+quantity > MaxQuantity {
			return tooMany("quantity")
		}
		c.lines[i].quantity += quantity
		c.lines[i].seen = s
		return nil
	}
	if len(c.lines) >= MaxLines {
		return ErrCartFull
	}
	c.lines = append(c.lines, line{productID: productID, quantity: quantity, position: c.nextPosition(), seen: s})
	return nil
}

// setQuantity sets a line's quantity; 0 removes the line.
func (c *cart) setQuantity(productID string, quantity int) error {
	i := c.find(productID)
	if i < 0 {
		return ErrLineNotFound
	}
	if quantity == 0 {
		c.lines = append(c.lines[:i], c.lines[i+1:]...)
		return nil
	}
	c.lines[i].quantity = quantity
	return nil
}

// remove takes a line out.
func (c *cart) remove(productID string) error {
	return c.setQuantity(productID, 0)
}

// merge moves guest's lines into c, in guest's order: the quantities of a
// product c already holds are added, up to MaxQuantity; other products get
// new lines while there is room, and the rest are dropped.
func (c *cart) merge(guest *cart) (dropped []Dropped) {
	for _, g := range guest.lines {
		if i := c.find(g.productID); i >= 0 {
			c.lines[i].quantity = min(c.lines[i].quantity+g.quantity, MaxQuantity)
			continue
		}
		if len(c.lines) >= MaxLines {
			dropped = append(dropped, Dropped{ProductID: g.productID, SKU: g.seen.sku, Name: g.seen.name,
				Quantity: g.quantity})
			continue
		}
		g.position = c.nextPosition()
		c.lines = append(c.lines, g)
	}
	return dropped
}

// removeBought takes the units an order bought out of the cart: a line
// keeps what was added beyond them, and goes when nothing is left. It
// reports whether anything changed.
func (c *cart) removeBought(bought []event.OrderLine) bool {
	units := map[string]int{}
	for _, b := range bought {
		units[b.ProductID] += max(b.Quantity, 0)
	}
	kept := c.lines[:0]
	changed := false
	for _, l := range c.lines {
		if n := units[l.productID]; n > 0 {
			changed = true
			if l.quantity <= n {
				continue
			}
			l.quantity -= n
		}
		kept = append(kept, l)
	}
	c.lines = kept
	return changed
}

// A guest's cart token is 256 random bits, base64url without padding; only
// its SHA-256 is stored, so the database alone cannot name a cart.
const tokenLength = 43

func newToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormedToken reports whether token could be one newToken made; one
// that could not names no cart, and needs no look-up to say so.
func wellFormedToken(token string) bool {
	if len(token) != tokenLength {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil
}
