-- +goose Up
-- Times are TIMESTAMP columns holding UTC, written from Go on both dialects.
CREATE TABLE orders (
    id                TEXT PRIMARY KEY,            -- UUIDv7; also the reservation id
    number            TEXT NOT NULL UNIQUE,        -- EMP-10042
    customer_id       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('checkout', 'failed', 'pending_payment',
                          'paid', 'shipped', 'delivered', 'cancelled')),
    -- The checkout saga's progress: reserving → reserved → placed (or failed).
    step              TEXT NOT NULL CHECK (step IN ('reserving', 'reserved', 'placed', 'failed')),
    idempotency_key   TEXT NOT NULL,               -- the checkout's key (scoped to customer_id)
    currency          TEXT NOT NULL,
    subtotal          BIGINT NOT NULL CHECK (subtotal >= 0),
    shipping          BIGINT NOT NULL CHECK (shipping >= 0),
    total             BIGINT NOT NULL CHECK (total >= 0),
    shipping_address  TEXT NOT NULL,               -- JSON, as answered
    tracking_number   TEXT,
    payment_id        TEXT,
    payment_due_at    TIMESTAMP,                   -- an unpaid order is cancelled after it
    lease_until       TIMESTAMP NOT NULL,          -- the saga's driver holds it until then
    saga_attempts     INTEGER NOT NULL DEFAULT 0,  -- recovery attempts of the checkout
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
-- Newest first, ties by id: the customer's list and the admin's (all, or by status).
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC, id);
CREATE INDEX orders_by_created ON orders (created_at DESC, id);
CREATE INDEX orders_by_status ON orders (status, created_at DESC, id);
-- The workers' queues: checkouts to drive, unpaid orders to expire.
CREATE INDEX orders_checkout ON orders (lease_until) WHERE status = 'checkout';
CREATE INDEX orders_unpaid ON orders (payment_due_at) WHERE status = 'pending_payment';

-- The lines as bought: name and price as they were at checkout.
CREATE TABLE order_lines (
    order_id   TEXT NOT NULL REFERENCES orders (id),
    position   INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    line_total BIGINT NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (order_id, position)
);

-- Every status an order entered, in order; its count is the order's version.
CREATE TABLE order_status_history (
    order_id TEXT NOT NULL REFERENCES orders (id),
    seq      INTEGER NOT NULL,
    status   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at       TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- Idempotency-Key records, scoped to the customer, kept 72 hours. A record
-- without a response is a request in progress until locked_until (a crash
-- leaves it to expire), or one whose last attempt failed with a 5xx
-- (locked_until NULL): a retry takes it over and finishes its order.
CREATE TABLE idempotency_keys (
    customer_id     TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,                 -- SHA-256 of the body as canonical JSON
    order_id        TEXT NOT NULL,
    locked_until    TIMESTAMP,
    response_status INTEGER,
    response_body   TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE order_status_history;
DROP TABLE order_lines;
DROP TABLE orders;
