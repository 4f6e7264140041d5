-- +goose Up
-- Each category link carries its product's sort keys, written with the link
-- (the catalog relinks a product's categories on every write of the
-- product), so that a leaf category's listing is a range of one of these
-- indexes instead of a walk of every product in the sort's order.
ALTER TABLE product_categories ADD COLUMN status TEXT;
ALTER TABLE product_categories ADD COLUMN created_at TIMESTAMP;
ALTER TABLE product_categories ADD COLUMN price_amount BIGINT;
ALTER TABLE product_categories ADD COLUMN sort_name TEXT;
UPDATE product_categories SET (status, created_at, price_amount, sort_name) =
    (SELECT p.status, p.created_at, p.price_amount, p.sort_name FROM products p
     WHERE p.id = product_categories.product_id);
CREATE INDEX product_categories_by_created ON product_categories (category_id, status, created_at DESC, product_id);
CREATE INDEX product_categories_by_price ON product_categories (category_id, status, price_amount, product_id);
CREATE INDEX product_categories_by_price_desc ON product_categories (category_id, status, price_amount DESC, product_id);
CREATE INDEX product_categories_by_name ON product_categories (category_id, status, sort_name, product_id);
-- Links written without the keys, by a replica of the version before this
-- one during a rolling upgrade: the sweeper fills them in (fillLinkKeys).
CREATE INDEX product_categories_without_keys ON product_categories (product_id) WHERE status IS NULL;

-- +goose Down
DROP INDEX product_categories_without_keys;
DROP INDEX product_categories_by_name;
DROP INDEX product_categories_by_price_desc;
DROP INDEX product_categories_by_price;
DROP INDEX product_categories_by_created;
ALTER TABLE product_categories DROP COLUMN sort_name;
ALTER TABLE product_categories DROP COLUMN price_amount;
ALTER TABLE product_categories DROP COLUMN created_at;
ALTER TABLE product_categories DROP COLUMN status;
