-- +goose Up
-- q finds a substring of search_text (search_text LIKE '%…%'). An FTS5 index
-- with the trigram tokenizer finds the products holding a substring of 3
-- characters or more; LIKE then checks each exactly. The index is an
-- external-content table over products, by rowid: it stores no copy of the
-- text, and triggers keep it in step with every write. (products has no
-- INTEGER PRIMARY KEY, so a VACUUM could renumber its rowids; after one, run
-- INSERT INTO products_search (products_search) VALUES ('rebuild').)
CREATE VIRTUAL TABLE products_search USING fts5 (
    search_text,
    content = 'products',
    content_rowid = 'rowid',
    tokenize = 'trigram'
);
-- The products already there.
INSERT INTO products_search (products_search) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER products_search_update AFTER UPDATE OF search_text ON products BEGIN
    INSERT INTO products_search (products_search, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO products_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_search (products_search, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER products_search_delete;
DROP TRIGGER products_search_update;
DROP TRIGGER products_search_insert;
DROP TABLE products_search;
