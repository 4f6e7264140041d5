package cart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
)

// Service holds the cart use cases. Each change is one transaction that
// holds the cart's row (see cartWhere), so concurrent changes of one cart
// queue and none is lost.
type Service struct {
	db        *sqldb.DB
	catalog   *catalog
	summaries *summaries
	carts     *readCache // nil on PostgreSQL
	currency  string
	guestTTL  time.Duration
	log       *slog.Logger
	now       func() time.Time

	sweepEvery time.Duration
}

// clock returns the time to store: UTC, in microseconds.
func (s *Service) clock() time.Time { return sqldb.Time(s.now()) }

// owner names the cart a request is about: a customer's, or a guest's by
// its token. sent says whether the request named a guest cart at all.
type owner struct {
	customerID string
	token      string
	sent       bool
}

func customer(id string) owner { return owner{customerID: id} }

func (o owner) guest() bool { return o.customerID == "" }

// guestSince is the oldest last change a guest cart may have and still be
// alive.
func (s *Service) guestSince() time.Time { return s.clock().Add(-s.guestTTL) }

func (s *Service) newCart(customerID string) *cart {
	now := s.clock()
	return &cart{id: uuid.Must(uuid.NewV7()).String(), customerID: customerID, createdAt: now, updatedAt: now}
}

// Cart returns the owner's cart, priced. A customer without a cart gets a
// new, empty one; a guest request that names no live cart is ErrCartNotFound.
func (s *Service) Cart(ctx context.Context, o owner) (*Cart, error) {
	c, err := s.peek(ctx, o)
	if err == nil && c == nil {
		if o.guest() {
			err = ErrCartNotFound
		} else {
			c, err = s.createCustomerCart(ctx, o.customerID)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read cart: %w", err)
	}
	return s.price(ctx, c)
}

// peek reads the owner's cart without holding it: nil for a customer or a
// guest request without a token that have none, ErrCartNotFound for a token
// that names no live cart.
func (s *Service) peek(ctx context.Context, o owner) (*cart, error) {
	switch {
	case !o.guest():
		return s.carts.customerCart(ctx, s.db, o.customerID)
	case !o.sent:
		return nil, nil
	case !wellFormedToken(o.token):
		return nil, ErrCartNotFound
	}
	c, err := guestCart(ctx, s.db, hashToken(o.token), s.guestSince())
	if err == nil && c == nil {
		err = ErrCartNotFound
	}
	return c, err
}

func (s *Service) createCustomerCart(ctx context.Context, customerID string) (*cart, error) {
	var c *cart
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := ensureCustomerCart(ctx, tx, s.newCart(customerID)); err != nil {
			return err
		}
		var err error
		c, err = customerCart(ctx, tx, customerID)
		return err
	})
	return c, err
}

// change runs fn on the owner's cart in one transaction that holds the cart,
// and saves what fn changed. When the owner has no cart and create is set, a
// customer gets theirs and a guest request without a token a new guest cart,
// whose token is returned; without create fn runs on an empty cart that is
// not saved. A token that names no live cart is ErrCartNotFound.
func (s *Service) change(ctx context.Context, o owner, create bool, fn func(c *cart) error) (*cart, string, error) {
	if o.guest() && o.sent && !wellFormedToken(o.token) {
		return nil, "", ErrCartNotFound
	}
	var c *cart
	var token string
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		c, token, err = s.hold(ctx, tx, o, create)
		if err != nil {
			return err
		}
		saved := c != nil
		if !saved {
			c = s.newCart(o.customerID)
		}
		old := c.clone()
		if err := fn(c); err != nil || !saved {
			return err
		}
		c.updatedAt = s.clock()
		return saveCart(ctx, tx, old, c)
	})
	if err != nil {
		return nil, "", err
	}
	return c, token, nil
}

// hold reads and locks the owner's cart in tx, making it first when create
// is set (see change); nil when there is none to change.
func (s *Service) hold(ctx context.Context, tx *sqldb.Tx, o owner, create bool) (*cart, string, error) {
	switch {
	case !o.guest():
		if create {
			if err := ensureCustomerCart(ctx, tx, s.newCart(o.customerID)); err != nil {
				return nil, "", err
			}
		}
		c, err := customerCart(ctx, tx, o.customerID)
		return c, "", err
	case o.sent:
		c, err := guestCart(ctx, tx, hashToken(o.token), s.guestSince())
		if err == nil && c == nil {
			err = ErrCartNotFound
		}
		return c, "", err
	case !create:
		return nil, "", ErrCartNotFound
	}
	token, hash := newToken()
	c := s.newCart("")
	return c, token, insertGuestCart(ctx, tx, c, hash)
}

// AddItem adds quantity units of a product for sale to the owner's cart,
// making the cart when there is none (the token of a new guest cart is
// returned). It needs the catalog: when that cannot be reached the answer
// is errs.Unavailable. The cart's other products are looked up in the same
// call to the catalog's database, and its answer priced from it.
func (s *Service) AddItem(ctx context.Context, o owner, in AddItemRequest) (*Cart, string, error) {
	if !in.lookable() {
		return nil, "", fmt.Errorf("add %q to cart: %w", in.ProductID, ErrProductNotFound)
	}
	before, err := s.peek(ctx, o)
	if err != nil {
		return nil, "", fmt.Errorf("add to cart: %w", err)
	}
	ids := []string{in.ProductID}
	if before != nil {
		for _, l := range before.lines {
			if l.productID != in.ProductID && len(ids) < maxLookup {
				ids = append(ids, l.productID)
			}
		}
	}
	asked := s.now()
	found, err := s.catalog.products(ctx, ids, false)
	if err != nil {
		return nil, "", fmt.Errorf("add to cart: %w", err)
	}
	// Newer than any kept: the answer prices the cart after the add.
	s.summaries.put(ids, found, asked)
	p, ok := found[in.ProductID]
	if !ok || !p.forSale() {
		return nil, "", fmt.Errorf("add %s to cart: %w", in.ProductID, ErrProductNotFound)
	}
	c, token, err := s.change(ctx, o, true, func(c *cart) error { return c.add(p.ID, in.Quantity, p.seen()) })
	if err != nil {
		return nil, "", fmt.Errorf("add to cart: %w", err)
	}
	view, err := s.price(ctx, c)
	return view, token, err
}

// SetQuantity sets the quantity of a line; 0 removes it. A product not in
// the cart is ErrLineNotFound.
func (s *Service) SetQuantity(ctx context.Context, o owner, productID string, quantity int) (*Cart, error) {
	c, _, err := s.change(ctx, o, false, func(c *cart) error { return c.setQuantity(productID, quantity) })
	if err != nil {
		return nil, fmt.Errorf("change cart line %s: %w", productID, err)
	}
	return s.price(ctx, c)
}

// RemoveItem takes a line out of the cart. A product not in the cart is
// ErrLineNotFound.
func (s *Service) RemoveItem(ctx context.Context, o owner, productID string) (*Cart, error) {
	c, _, err := s.change(ctx, o, false, func(c *cart) error { return c.remove(productID) })
	if err != nil {
		return nil, fmt.Errorf("remove cart line %s: %w", productID, err)
	}
	return s.price(ctx, c)
}

// Empty removes every line of the owner's cart; the cart stays (a guest's
// token keeps naming it).
func (s *Service) Empty(ctx context.Context, o owner) error {
	_, _, err := s.change(ctx, o, false, func(c *cart) error {
		c.lines = nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("empty cart: %w", err)
	}
	return nil
}

// Merge moves the lines of the guest cart the token names into the
// customer's cart (see cart.merge) and deletes the guest cart, in one
// transaction: a second merge of the same token, or two at once, find no
// cart (ErrCartNotFound) and change nothing.
func (s *Service) Merge(ctx context.Context, customerID, token string) (*Merged, error) {
	if !wellFormedToken(token) {
		return nil, fmt.Errorf("merge cart: %w", ErrCartNotFound)
	}
	var c *cart
	var dropped []Dropped
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		// The guest cart first, then the customer's: every transaction that
		// holds two carts takes them in this order.
		g, _, err := s.hold(ctx, tx, owner{token: token, sent: true}, false)
		if err != nil {
			return err
		}
		if c, _, err = s.hold(ctx, tx, customer(customerID), true); err != nil {
			return err
		}
		old := c.clone()
		dropped = c.merge(g)
		c.updatedAt = s.clock()
		if err := saveCart(ctx, tx, old, c); err != nil {
			return err
		}
		return deleteCart(ctx, tx, g.id)
	})
	if err != nil {
		return nil, fmt.Errorf("merge cart: %w", err)
	}
	view, err := s.price(ctx, c)
	if err != nil {
		return nil, err
	}
	if dropped == nil {
		dropped = []Dropped{} // "dropped": [], not null
	}
	return &Merged{Cart: *view, Dropped: dropped}, nil
}

// Stored returns a customer's cart as stored, unpriced; empty for a
// customer without one.
func (s *Service) Stored(ctx context.Context, customerID string) (*Stored, error) {
	c, err := customerCart(ctx, s.db, customerID)
	if err != nil {
		return nil, fmt.Errorf("read stored cart: %w", err)
	}
	out := &Stored{CustomerID: customerID, Items: []StoredLine{}}
	if c == nil {
		return out, nil
	}
	out.UpdatedAt = &c.updatedAt
	for _, l := range c.lines {
		out.Items = append(out.Items, StoredLine{ProductID: l.productID, Quantity: l.quantity})
	}
	return out, nil
}

// price answers c as the catalog describes its products (see lookup). When
// the catalog cannot be reached, every line shows what it last said, with
// nothing available, and the cart is marked stale. What the catalog said
// that differs from the stored copy is stored for next time.
func (s *Service) price(ctx context.Context, c *cart) (*Cart, error) {
	view := &Cart{ID: c.id, Items: make([]Item, 0, len(c.lines)), Subtotal: Money{Currency: s.currency},
		UpdatedAt: c.updatedAt}
	got, err := s.lookup(ctx, c.lines)
	switch {
	case err == nil: // KindOf allocates: not on every read
	case errs.KindOf(err) == errs.Unavailable:
		// Debug, not a warning per request: the client's breaker warns when
		// it opens and closes, and its metrics count the failures.
		view.Stale = true
		s.log.DebugContext(ctx, "cart priced from its stored copy: the catalog cannot be reached",
			slog.String("error", err.Error()))
	case err != nil:
		return nil, fmt.Errorf("price cart: %w", err)
	}
	var changed []line
	for i, l := range c.lines {
		it := Item{ProductID: l.productID, Quantity: l.quantity,
			SKU: l.seen.sku, Name: l.seen.name, UnitPrice: l.seen.price}
		if got != nil && got[i].known {
			p := got[i].p
			it.SKU, it.Name, it.UnitPrice = p.SKU, p.Name, p.Price
			if p.forSale() {
				it.Available = max(p.Available, 0)
			}
			if p.seen() != l.seen {
				l.seen = p.seen()
				changed = append(changed, l)
			}
		}
		it.LineTotal = Money{Amount: it.UnitPrice.Amount * int64(l.quantity), Currency: it.UnitPrice.Currency}
		view.Items = append(view.Items, it)
		view.Subtotal.Amount += it.LineTotal.Amount
		view.ItemCount += l.quantity
	}
	if len(changed) > 0 {
		s.rememberSeen(ctx, c.id, changed)
	}
	return view, nil
}

// lookup returns what the catalog says of each line's product, in the
// lines' order: what the cart asked it less than summaryMaxAge ago (see
// summaries), and the rest in one call, answered from the catalog's read
// cache (availability up to a second behind, as on a product page), whose
// answers are kept. When the catalog cannot be reached the error is
// errs.Unavailable.
func (s *Service) lookup(ctx context.Context, lines []line) ([]summary, error) {
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = l.productID
	}
	got := make([]summary, len(lines))
	asked := s.now()
	missing := s.summaries.get(ids, asked, got)
	if len(missing) == 0 {
		return got, nil
	}
	ask := make([]string, len(missing))
	for j, i := range missing {
		ask[j] = ids[i]
	}
	found, err := s.catalog.products(ctx, ask, true)
	if err != nil {
		return nil, err
	}
	s.summaries.put(ask, found, asked)
	for _, i := range missing {
		p, ok := found[ids[i]]
		got[i] = summary{p: p, known: ok, asked: asked}
	}
	return got, nil
}

// rememberSeen stores the catalog's latest word on some lines. It is a
// cache of sorts: a failure is logged, and the next read tries again.
func (s *Service) rememberSeen(ctx context.Context, cartID string, lines []line) {
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error { return storeSeen(ctx, tx, cartID, lines) })
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.WarnContext(ctx, "cannot store the catalog's latest names and prices of a cart",
			slog.String("cart_id", cartID), slog.String("error", err.Error()))
	}
}
