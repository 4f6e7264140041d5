-- +goose Up
-- Times are TIMESTAMP columns holding UTC, written from Go on both dialects.

-- How to reach each customer: a projection of identity.user.registered and
-- identity.user.updated. as_of is the time of the event it was taken from.
CREATE TABLE contacts (
    user_id    TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    name       TEXT NOT NULL,
    phone      TEXT,
    sms_opt_in BOOLEAN NOT NULL,
    as_of      TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The delivery log: one message per event and channel.
CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    customer_id TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    provider    TEXT,
    error_code  TEXT,
    last_error  TEXT,
    created_at  TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP,
    UNIQUE (event_id, channel)
);
-- Newest first, ties by id: the customer's list (and the quota's count), the
-- admin's list, and its status filter.
CREATE INDEX deliveries_by_customer ON deliveries (customer_id, created_at DESC, id);
CREATE INDEX deliveries_by_created ON deliveries (created_at DESC, id);
CREATE INDEX deliveries_by_status ON deliveries (status, created_at DESC, id);

-- Events that arrived before their customer's contact, waiting for it.
CREATE TABLE held_events (
    event_id    TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    envelope    TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX held_events_by_customer ON held_events (customer_id);
CREATE INDEX held_events_by_received ON held_events (received_at);

-- Order numbers by order id, from the orders events, for the payment emails.
CREATE TABLE order_numbers (
    order_id TEXT PRIMARY KEY,
    number   TEXT NOT NULL
);

-- +goose Down
DROP TABLE order_numbers;
DROP TABLE held_events;
DROP TABLE deliveries;
DROP TABLE contacts;
