package catalog

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"emporium/internal/platform/sqldb"
)

// allCategories reads every category, with no children linked yet.
func allCategories(ctx context.Context, q querier) ([]*Category, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, name, slug, parent_id, position FROM categories")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Category
	for rows.Next() {
		c := &Category{Children: []*Category{}}
		var parent sql.NullString
		if err := rows.Scan(&c.ID, &c.Name, &c.Slug, &parent, &c.Position); err != nil {
			return nil, err
		}
		if parent.Valid {
			c.ParentID = &parent.String
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// insertCategory writes a new category.
func insertCategory(ctx context.Context, tx *sqldb.Tx, c *Category, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO categories (id, name, slug, parent_id, position, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, c.ID, c.Name, c.Slug, c.ParentID, c.Position, now)
	if err != nil {
		return categoryConflict(err)
	}
	return nil
}

// updateCategory writes every mutable column of c.
func updateCategory(ctx context.Context, tx *sqldb.Tx, c *Category, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE categories SET name = $2, slug = $3, parent_id = $4, position = $5,
		updated_at = $6 WHERE id = $1`, c.ID, c.Name, c.Slug, c.ParentID, c.Position, now)
	if err != nil {
		return categoryConflict(err)
	}
	return nil
}

// deleteCategory removes a category that has neither products nor children:
// ErrCategoryNotEmpty when it has some, ErrCategoryNotFound when there is none.
func deleteCategory(ctx context.Context, tx *sqldb.Tx, id string) error {
	var used int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM categories WHERE parent_id = $1) +
		(SELECT count(*) FROM product_categories WHERE category_id = $1)`, id).Scan(&used)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM categories WHERE id = $1 AND $2 = 0", id, used)
	if errors.Is(sqldb.Translate(err), sqldb.ErrForeignKey) {
		return ErrCategoryNotEmpty // a product was linked meanwhile
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if used > 0 {
		return ErrCategoryNotEmpty
	}
	return ErrCategoryNotFound
}

// categoryTreeLock is the PostgreSQL advisory lock key that serializes
// category updates ("catalog" in ASCII).
const categoryTreeLock int64 = 0x636174616c6f67

// lockCategoryTree makes tx the only transaction updating categories until it
// ends. Two moves that each check the tree as it stood before the other (X
// under Y, and Y under X) would otherwise both pass and store a cycle; under
// the lock the second one sees the first. SQLite needs nothing: its
// transactions already hold the database's one write lock.
func lockCategoryTree(ctx context.Context, tx *sqldb.Tx) error {
	if tx.Dialect() != sqldb.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", categoryTreeLock)
	return err
}

func categoryConflict(err error) error {
	switch {
	case sqldb.IsUnique(err, "slug"):
		return ErrSlugTaken
	case errors.Is(sqldb.Translate(err), sqldb.ErrForeignKey):
		return errBadParent
	}
	return err
}
