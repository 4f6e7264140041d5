package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Service holds the catalog use cases. It owns the transactions and writes
// events to the outbox inside them.
type Service struct {
	db       *sqldb.DB
	currency string
	cache    *readCache
	log      *slog.Logger
	now      func() time.Time

	sweepEvery time.Duration
	sweepBatch int // expired holds read at a time
}

// clock returns the time to store: UTC, in microseconds, which both
// databases keep exactly.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Product returns a product; draft and archived ones only when visible is false.
func (s *Service) Product(ctx context.Context, id string, includeHidden bool) (*Product, error) {
	p, err := s.cache.product(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("product %s: %w", id, err)
	}
	if p.Status != StatusActive && !includeHidden {
		return nil, ErrProductNotFound
	}
	return p, nil
}

// productAnswer is Product ready to write: its JSON and ETag.
func (s *Service) productAnswer(ctx context.Context, id string, includeHidden bool) (*answer, error) {
	a, err := s.cache.productAnswer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("product %s: %w", id, err)
	}
	if a.status != StatusActive && !includeHidden {
		return nil, ErrProductNotFound
	}
	return a, nil
}

// listAnswer is List ready to write: a web.List of products in JSON.
func (s *Service) listAnswer(ctx context.Context, q Query) (*answer, error) {
	a, err := s.cache.pageAnswer(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return a, nil
}

// productsAnswer is Products ready to write, from the read cache: a
// web.List of products in JSON, whose availability may lag a stock change
// made through another replica by up to freshFor, as a product read's.
// With summary, it lists their ProductSummary.
func (s *Service) productsAnswer(ctx context.Context, ids []string, summary bool) ([]byte, error) {
	as, err := s.cache.productsAnswers(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	return setAnswer(as, summary), nil
}

// Products returns the known products among ids, any status, in the order of ids.
func (s *Service) Products(ctx context.Context, ids []string) ([]*Product, error) {
	ps, err := productsByIDs(ctx, s.db, ids)
	if err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	// By position in ids, looked up in a map: slices.Index in the comparator
	// would make the sort quadratic in the number of ids.
	at := make(map[string]int, len(ids))
	for i, id := range ids {
		if _, seen := at[id]; !seen {
			at[id] = i
		}
	}
	slices.SortFunc(ps, func(a, b *Product) int { return at[a.ID] - at[b.ID] })
	if ps == nil {
		ps = []*Product{} // "items": [], not null, when no id is known
	}
	return ps, nil
}

// List returns a page of products and the cursor after it ("" on the last page).
func (s *Service) List(ctx context.Context, q Query) ([]*Product, string, error) {
	ps, next, err := s.cache.list(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list products: %w", err)
	}
	return ps, next, nil
}

// CreateProduct adds a product with empty stock.
func (s *Service) CreateProduct(ctx context.Context, in CreateProductRequest) (*Product, error) {
	return s.createProduct(ctx, in, 0, "")
}

// createProduct adds a product and, when stock is positive, puts that many
// units on hand for reason, in the same transaction: a product never exists
// without the stock it was created with.
func (s *Service) createProduct(ctx context.Context, in CreateProductRequest, stock int64,
	reason string) (*Product, error) {
	p, err := s.newProduct(in)
	if err != nil {
		return nil, err
	}
	create := func(tx *sqldb.Tx) error { return s.insertNew(ctx, tx, p, in.Slug == "", stock, reason) }
	err = s.db.Tx(ctx, create)
	// Another product took the derived slug between our look and our insert:
	// look again, and take the next suffix instead of answering a conflict.
	for try := 0; try < 10 && in.Slug == "" && errors.Is(err, ErrSlugTaken); try++ {
		err = s.db.Tx(ctx, create)
	}
	if err != nil {
		return nil, fmt.Errorf("create product: %w", err)
	}
	return p, nil
}

// newProduct checks a request to create a product and makes the product.
func (s *Service) newProduct(in CreateProductRequest) (*Product, error) {
	if err := in.validate(s.currency); err != nil {
		return nil, err
	}
	now := s.clock()
	p := &Product{ID: uuid.Must(uuid.NewV7()).String(), SKU: in.SKU, Name: in.Name, Slug: in.Slug,
		Description: in.Description, Price: in.Price, CategoryIDs: dedupe(in.CategoryIDs),
		Attributes: in.Attributes, Images: in.Images, Status: in.Status, Version: 1, CreatedAt: now, UpdatedAt: now}
	if p.Attributes == nil {
		p.Attributes = map[string]string{}
	}
	if p.Images == nil {
		p.Images = []string{}
	}
	return p, nil
}

// insertNew writes a new product in tx, with a slug derived from its name
// when deriveSlug is set, and stock units on hand for reason.
func (s *Service) insertNew(ctx context.Context, tx *sqldb.Tx, p *Product, deriveSlug bool, stock int64,
	reason string) error {
	if deriveSlug {
		slug, err := freeSlug(ctx, tx, Slugify(p.Name))
		if err != nil {
			return err
		}
		p.Slug = slug
	}
	if err := insertProduct(ctx, tx, p); err != nil {
		return err
	}
	if stock > 0 {
		change := stockChange{productID: p.ID, onHand: stock, reason: reason, at: p.CreatedAt}
		if _, err := changeStock(ctx, tx, change); err != nil {
			return err
		}
	}
	s.invalidateOnCommit(tx, p.ID)
	return announceProduct(ctx, tx, p)
}

// UpdateProduct changes a product. When ifMatch is not empty, it must name
// the current version (the part of the ETag before "-"), else ErrStale.
// Concurrent updates without ifMatch queue and all apply, one after another.
func (s *Service) UpdateProduct(ctx context.Context, id, ifMatch string, in UpdateProductRequest) (*Product, error) {
	var p *Product
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if p, err = productForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if ifMatch != "" && !etagMatchesVersion(ifMatch, p.Version) {
			return ErrStale
		}
		before := *p
		if err := in.apply(p, s.currency); err != nil {
			return err
		}
		if sameContent(&before, p) {
			return nil // nothing to change: the version and ETag stay
		}
		p.Version++
		p.UpdatedAt = s.clock()
		if err := updateProduct(ctx, tx, p); err != nil {
			return err
		}
		s.invalidateOnCommit(tx, p.ID)
		// Every change is announced, whatever it touched: other replicas drop
		// their cached copies on it, and consumers compare the version.
		return announceProduct(ctx, tx, p)
	})
	if err != nil {
		return nil, fmt.Errorf("update product %s: %w", id, err)
	}
	return p, nil
}

// ArchiveProduct takes a product off sale. Archiving twice changes nothing.
// When ifMatch is not empty, it must name the current version, as for
// UpdateProduct, else ErrStale — also when the product is archived already.
func (s *Service) ArchiveProduct(ctx context.Context, id, ifMatch string) error {
	p, err := s.Product(ctx, id, true)
	if err != nil {
		return err
	}
	if p.Status == StatusArchived {
		if ifMatch != "" && !etagMatchesVersion(ifMatch, p.Version) {
			return fmt.Errorf("archive product %s: %w", id, ErrStale)
		}
		return nil
	}
	_, err = s.UpdateProduct(ctx, id, ifMatch,
		UpdateProductRequest{Status: web.Optional[string]{Set: true, Value: StatusArchived}})
	return err
}

// sameContent reports whether two versions of a product say the same thing.
func sameContent(a, b *Product) bool {
	return a.SKU == b.SKU && a.Name == b.Name && a.Slug == b.Slug && a.Description == b.Description &&
		a.Price == b.Price && a.Status == b.Status && slices.Equal(a.CategoryIDs, b.CategoryIDs) &&
		maps.Equal(a.Attributes, b.Attributes) && slices.Equal(a.Images, b.Images)
}

// announceProduct writes catalog.product.updated for p: on its creation and
// on every change to it.
func announceProduct(ctx context.Context, tx *sqldb.Tx, p *Product) error {
	env, err := event.New(event.ProductUpdated, event.CatalogSource, event.ProductChanged{
		ProductID: p.ID, SKU: p.SKU, Name: p.Name, Price: p.Price, Status: p.Status, Version: p.Version})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, env)
}

// stockChangedOnCommit drops the products' rendered answers once tx
// commits, which changed their stock.
func (s *Service) stockChangedOnCommit(tx *sqldb.Tx, productIDs ...string) {
	tx.OnCommit(func() { s.cache.stockChanged(productIDs...) })
}

// invalidateOnCommit drops the product's cached copy and every cached listing
// once tx commits.
func (s *Service) invalidateOnCommit(tx *sqldb.Tx, productIDs ...string) {
	tx.OnCommit(func() { s.cache.invalidate(context.Background(), productIDs...) })
}
