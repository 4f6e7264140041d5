-- +goose Up
CREATE TABLE effects (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claim           TEXT,
    last_error      TEXT,
    done_at         TIMESTAMP,
    failed_at       TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX effects_due ON effects (next_attempt_at) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE INDEX effects_done_at ON effects (done_at) WHERE done_at IS NOT NULL;

-- +goose Down
DROP TABLE effects;
