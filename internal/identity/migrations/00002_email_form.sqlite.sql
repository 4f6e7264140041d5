-- +goose Up
-- Emails are stored in a normal form (NFKC, case folded; NormalizeEmail) from
-- here on. An email stored before that is already in it when it is lower-case
-- ASCII; the others are queued here, and the service brings them into the
-- form when it starts (normalizeStoredEmails), as SQL cannot on SQLite.
CREATE TABLE email_normalization (
    user_id TEXT PRIMARY KEY REFERENCES users (id)
);
INSERT INTO email_normalization (user_id)
SELECT id FROM users WHERE length(CAST(email AS BLOB)) <> length(email) OR email <> lower(email);

-- +goose Down
DROP TABLE email_normalization;
