-- +goose Up
-- Times are TIMESTAMP columns holding UTC, written from Go on both dialects.
-- Amounts are BIGINT minor units of the payment's currency.

-- One payment per order: Stripe's PaymentIntent as this service knows it.
CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL UNIQUE,
    customer_id    TEXT NOT NULL,
    provider       TEXT NOT NULL CHECK (provider IN ('stripe', 'sandbox')),
    -- The provider's PaymentIntent id; NULL until the provider answered the create.
    intent_id      TEXT UNIQUE,
    client_secret  TEXT NOT NULL DEFAULT '',
    amount         BIGINT NOT NULL CHECK (amount > 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('requires_payment_method', 'requires_action',
                       'processing', 'succeeded', 'canceled', 'refunded')),
    failure_code   TEXT NOT NULL DEFAULT '',
    refunded       BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    -- Confirm attempts started; attempt n's idempotency key is derived from (id, n).
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- The payment method of the last attempt while its answer is not recorded.
    pending_method TEXT,
    -- Unix seconds of the provider's state last applied: an older event never moves it back.
    provider_at    BIGINT NOT NULL DEFAULT 0,
    -- When the reconciler looks at the payment next; NULL when nothing is unsettled.
    check_at       TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX payments_check_at ON payments (check_at) WHERE check_at IS NOT NULL;

-- Refunds of a payment. A request is identified by its key (amount and
-- reason), so a repeat finds the refund it made.
CREATE TABLE refunds (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    request_key TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_refund_id TEXT,
    failure     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (payment_id, request_key)
);

-- Declined attempts already announced (payments.payment.failed), one per charge.
CREATE TABLE payment_failures (
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    attempt_ref  TEXT NOT NULL,
    failure_code TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (payment_id, attempt_ref)
);

-- Stripe event ids processed, kept 30 days: a redelivery changes nothing.
CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);

-- Every provider call and every webhook event, append-only (see the
-- triggers of the next migration): what, when, how much, the provider's ids
-- and the outcome. "Was this order charged?" is
--   SELECT * FROM payment_ledger WHERE order_id = '…' ORDER BY id;
CREATE TABLE payment_ledger (
    id              TEXT PRIMARY KEY,          -- UUIDv7: in the order written
    payment_id      TEXT,
    order_id        TEXT,
    source          TEXT NOT NULL,             -- call, webhook, sandbox
    action          TEXT NOT NULL,             -- create, confirm, cancel, refund, retrieve; or the event type
    provider        TEXT NOT NULL,
    intent_id       TEXT,
    object_id       TEXT,                      -- the event, refund or charge id, when there is one
    idempotency_key TEXT,
    amount          BIGINT,
    currency        TEXT,
    outcome         TEXT NOT NULL,             -- requested, a status, or error
    detail          TEXT NOT NULL DEFAULT '',  -- failure code, payment method, error
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX payment_ledger_payment ON payment_ledger (payment_id, id);
CREATE INDEX payment_ledger_order ON payment_ledger (order_id, id);

-- The sandbox provider's own state: its PaymentIntents and the answers it
-- gave per idempotency key, as Stripe keeps them on its side. Only the
-- sandbox reads and writes these tables.
CREATE TABLE sandbox_intents (
    id             TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    object         TEXT NOT NULL,              -- the PaymentIntent as JSON
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE TABLE sandbox_requests (
    idempotency_key TEXT PRIMARY KEY,
    request         TEXT NOT NULL,             -- what was asked, to refuse a reuse for another request
    response        TEXT NOT NULL,             -- the PaymentIntent answered, replayed for a retry
    created_at      TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE sandbox_requests;
DROP TABLE sandbox_intents;
DROP TABLE payment_ledger;
DROP TABLE webhook_events;
DROP TABLE payment_failures;
DROP TABLE refunds;
DROP TABLE payments;
