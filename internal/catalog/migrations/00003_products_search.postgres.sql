-- +goose Up
-- q finds a substring of search_text (search_text LIKE '%…%'): a trigram
-- index answers that without reading every product, for a q of 3 characters
-- or more. pg_trgm is a trusted extension: the database's owner may create
-- it, no superuser needed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_search_trgm ON products USING gin (search_text gin_trgm_ops);

-- +goose Down
DROP INDEX products_search_trgm;
