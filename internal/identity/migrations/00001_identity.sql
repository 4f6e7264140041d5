-- +goose Up
-- Times are TIMESTAMP columns holding UTC, written from Go on both dialects.
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,   -- trimmed and lower-cased
    name              TEXT NOT NULL,
    phone             TEXT,                   -- E.164, NULL when none
    sms_opt_in        BOOLEAN NOT NULL DEFAULT FALSE,
    roles             TEXT NOT NULL,          -- sorted, comma-separated
    password_hash     TEXT NOT NULL,          -- argon2id PHC string
    tokens_not_before TIMESTAMP,              -- access tokens issued before are refused
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

-- A family is one login session: the chain of refresh tokens rotated from it.
CREATE TABLE refresh_families (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,          -- absolute lifetime
    revoked_at   TIMESTAMP,
    revoke_cause TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Refresh tokens are stored only as SHA-256 hashes.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL REFERENCES refresh_families (id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,           -- idle lifetime
    rotated_at  TIMESTAMP                     -- set when exchanged for the next one
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Ed25519 signing keys; the private half is sealed with the key-encryption key.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,                -- base64url
    sealed_key  TEXT NOT NULL,                -- base64url AES-256-GCM nonce||ciphertext
    created_at  TIMESTAMP NOT NULL,
    signs_from  TIMESTAMP NOT NULL            -- published before it signs; a newer key retires it
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE users;
