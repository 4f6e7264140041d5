package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
)

var errBadParent = errs.Invalidf("parent_id", "must be an existing category that is not this one or below it")

// Categories returns the category tree: the roots, each with its children,
// siblings ordered by position, then name.
func (s *Service) Categories(ctx context.Context) ([]*Category, error) {
	all, err := allCategories(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	return tree(all), nil
}

// CreateCategory adds a category under an existing parent, or as a root.
func (s *Service) CreateCategory(ctx context.Context, in CategoryRequest) (*Category, error) {
	now := s.clock()
	c := &Category{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, Slug: in.Slug, ParentID: in.ParentID,
		Position: in.Position, Children: []*Category{}}
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := insertCategory(ctx, tx, c, now); err != nil {
			return err
		}
		return s.categoryChanged(ctx, tx, c.ID, false)
	})
	if err != nil {
		return nil, fmt.Errorf("create category: %w", err)
	}
	return c, nil
}

// UpdateCategory renames, moves or reorders a category. Moving it under
// itself or one of its descendants is refused.
func (s *Service) UpdateCategory(ctx context.Context, id string, in UpdateCategoryRequest) (*Category, error) {
	var c *Category
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := lockCategoryTree(ctx, tx); err != nil {
			return err
		}
		all, err := allCategories(ctx, tx)
		if err != nil {
			return err
		}
		byID := map[string]*Category{}
		for _, x := range all {
			byID[x.ID] = x
		}
		if c = byID[id]; c == nil {
			return ErrCategoryNotFound
		}
		if err := in.apply(c); err != nil {
			return err
		}
		// Walk up from the new parent: meeting c means a cycle. The walk is
		// bounded, so a cycle already stored above the parent (which the lock
		// now prevents) is refused instead of walked forever.
		steps := 0
		for p := c.ParentID; p != nil; p = byID[*p].ParentID {
			if *p == c.ID || byID[*p] == nil || steps > len(all) {
				return errBadParent
			}
			steps++
		}
		if err := updateCategory(ctx, tx, c, s.clock()); err != nil {
			return err
		}
		return s.categoryChanged(ctx, tx, c.ID, false)
	})
	if err != nil {
		return nil, fmt.Errorf("update category %s: %w", id, err)
	}
	c.Children = []*Category{}
	all, err := allCategories(ctx, s.db)
	if err == nil {
		for _, root := range tree(all) {
			if found := findCategory(root, id); found != nil {
				c = found
			}
		}
	}
	return c, nil
}

// DeleteCategory removes a category that has neither products nor children.
func (s *Service) DeleteCategory(ctx context.Context, id string) error {
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := deleteCategory(ctx, tx, id); err != nil {
			return err
		}
		return s.categoryChanged(ctx, tx, id, true)
	})
	if err != nil {
		return fmt.Errorf("delete category %s: %w", id, err)
	}
	return nil
}

// categoryChanged announces a category change and drops cached listings once
// tx commits.
func (s *Service) categoryChanged(ctx context.Context, tx *sqldb.Tx, id string, deleted bool) error {
	s.invalidateOnCommit(tx)
	env, err := event.New(event.CategoryUpdated, event.CatalogSource,
		event.CategoryChanged{CategoryID: id, Deleted: deleted})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, env)
}

// tree links categories to their parents and returns the roots, each level
// ordered by position, then name, then id. A category whose parent is gone,
// or whose parent link closes a cycle, is shown as a root (with its stored
// parent_id), so that no category goes missing and the tree stays finite.
func tree(all []*Category) []*Category {
	slices.SortFunc(all, func(a, b *Category) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	byID := map[string]*Category{}
	for _, c := range all {
		byID[c.ID] = c
	}
	cut := cycleCuts(all, byID)
	roots := []*Category{}
	for _, c := range all {
		if c.ParentID == nil || byID[*c.ParentID] == nil || cut[c.ID] {
			roots = append(roots, c)
		} else {
			parent := byID[*c.ParentID]
			parent.Children = append(parent.Children, c)
		}
	}
	return roots
}

// cycleCuts returns one category of each cycle of parent links, the one
// whose link closes the cycle when walking up from the first category of
// all. Moves are serialized so that no cycle is stored, but the tree must
// not lose categories nor recurse forever if one ever is.
func cycleCuts(all []*Category, byID map[string]*Category) map[string]bool {
	cut := map[string]bool{}
	done := map[string]bool{} // walked already: leads to a root or a cut
	for _, c := range all {
		path := map[string]bool{}
		for n := c; n != nil && !done[n.ID]; {
			if path[n.ID] {
				cut[n.ID] = true
				break
			}
			path[n.ID] = true
			if n.ParentID == nil {
				break
			}
			n = byID[*n.ParentID]
		}
		for id := range path {
			done[id] = true
		}
	}
	return cut
}

func findCategory(c *Category, id string) *Category {
	if c.ID == id {
		return c
	}
	for _, ch := range c.Children {
		if f := findCategory(ch, id); f != nil {
			return f
		}
	}
	return nil
}
