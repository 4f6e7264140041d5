-- +goose Up
-- Finding a free derived slug reads every slug that starts with "<base>-" in
-- one range scan of this index (its ~>=~ and ~<~ compare bytes, whatever the
-- database's collation). SQLite's unique index on slug already compares bytes.
CREATE INDEX products_slug_prefix ON products (slug text_pattern_ops);

-- +goose Down
DROP INDEX products_slug_prefix;
