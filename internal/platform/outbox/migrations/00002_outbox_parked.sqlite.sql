-- +goose Up
-- A row the bus can never take is parked instead of published: the relay
-- skips it and goes on with the rest (see the outbox package documentation).
ALTER TABLE outbox ADD COLUMN parked_at TIMESTAMP;
ALTER TABLE outbox ADD COLUMN parked_reason TEXT;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL;

-- +goose Down
DROP INDEX outbox_parked;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
ALTER TABLE outbox DROP COLUMN parked_reason;
ALTER TABLE outbox DROP COLUMN parked_at;
