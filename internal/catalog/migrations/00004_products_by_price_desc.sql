-- +goose Up
-- The -price sort orders by price_amount DESC, then id ascending: walking
-- products_by_price backwards would give the ids of one price in descending
-- order, so that sort needs an index of its own.
CREATE INDEX products_by_price_desc ON products (status, price_amount DESC, id);

-- +goose Down
DROP INDEX products_by_price_desc;
