-- +goose Up
-- Times are TIMESTAMP columns holding UTC, written from Go on both dialects.
-- A cart is a customer's (customer_id) or a guest's, who names it by a token
-- of which only the SHA-256 is kept (token_hash).
CREATE TABLE carts (
    id          TEXT PRIMARY KEY,
    customer_id TEXT UNIQUE,
    token_hash  TEXT UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,             -- the last change; a guest cart expires from it
    CHECK ((customer_id IS NULL) <> (token_hash IS NULL))
);
-- The sweeper's walk over guest carts, oldest change first.
CREATE INDEX carts_guest_updated ON carts (updated_at) WHERE token_hash IS NOT NULL;

-- sku, name and the price are the product as the catalog last described it:
-- what a read shows when the catalog cannot be reached.
CREATE TABLE cart_lines (
    cart_id        TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id     TEXT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    position       INTEGER NOT NULL,            -- the order the lines were added in
    sku            TEXT NOT NULL,
    name           TEXT NOT NULL,
    price_amount   BIGINT NOT NULL,
    price_currency TEXT NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);

-- +goose Down
DROP TABLE cart_lines;
DROP TABLE carts;
