-- +goose Up
-- Order numbers come from an AUTOINCREMENT key, which SQLite never hands out
-- twice, even after the row is deleted (the checkout deletes it at once): the
-- highest one given lives in sqlite_sequence. SQLite's one writer orders them.
CREATE TABLE order_numbers (
    n INTEGER PRIMARY KEY AUTOINCREMENT
);
INSERT INTO order_numbers (n) VALUES (10000);
DELETE FROM order_numbers;

-- +goose Down
DROP TABLE order_numbers;
