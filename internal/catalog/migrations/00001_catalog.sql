-- +goose Up
-- Times are TIMESTAMP columns holding UTC, written from Go on both dialects.
CREATE TABLE categories (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    parent_id  TEXT REFERENCES categories (id),
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX categories_parent ON categories (parent_id);

CREATE TABLE products (
    id             TEXT PRIMARY KEY,
    sku            TEXT NOT NULL UNIQUE,
    slug           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    sort_name      TEXT NOT NULL,             -- lower(name), the name sort's key
    description    TEXT NOT NULL DEFAULT '',
    search_text    TEXT NOT NULL,             -- lower(name || ' ' || description), for q
    price_amount   BIGINT NOT NULL CHECK (price_amount > 0),
    price_currency TEXT NOT NULL,
    category_ids   TEXT NOT NULL DEFAULT '[]', -- JSON array, as answered; product_categories filters
    attributes     TEXT NOT NULL DEFAULT '{}', -- JSON object of strings
    images         TEXT NOT NULL DEFAULT '[]', -- JSON array of URLs
    status         TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    version        BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
-- One index per sort, led by status: the public lists active products only.
CREATE INDEX products_by_created ON products (status, created_at DESC, id);
CREATE INDEX products_by_price ON products (status, price_amount, id);
CREATE INDEX products_by_name ON products (status, sort_name, id);

CREATE TABLE product_categories (
    product_id  TEXT NOT NULL REFERENCES products (id),
    category_id TEXT NOT NULL REFERENCES categories (id),
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_category ON product_categories (category_id, product_id);

-- The database itself refuses oversell: reserved never exceeds on_hand.
CREATE TABLE inventory (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    on_hand    BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved   BIGINT NOT NULL CHECK (reserved >= 0),
    updated_at TIMESTAMP NOT NULL,
    CHECK (reserved <= on_hand)
);

-- Append-only: every change of on_hand or reserved, with its reason.
CREATE TABLE inventory_ledger (
    id             TEXT PRIMARY KEY,          -- UUIDv7: in time order
    product_id     TEXT NOT NULL REFERENCES products (id),
    on_hand_delta  BIGINT NOT NULL,
    reserved_delta BIGINT NOT NULL,
    reason         TEXT NOT NULL,
    reservation_id TEXT,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX inventory_ledger_product ON inventory_ledger (product_id, id);

CREATE TABLE reservations (
    id         TEXT PRIMARY KEY,              -- the caller's reservation_id
    status     TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released', 'restocked')),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX reservations_held ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    product_id     TEXT NOT NULL REFERENCES products (id),
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, product_id)
);

-- +goose Down
DROP TABLE reservation_lines;
DROP TABLE reservations;
DROP TABLE inventory_ledger;
DROP TABLE inventory;
DROP TABLE product_categories;
DROP TABLE products;
DROP TABLE categories;
