-- +goose Up
-- The ledger is append-only: no UPDATE or DELETE, whoever asks.
-- +goose StatementBegin
CREATE TRIGGER payment_ledger_no_update BEFORE UPDATE ON payment_ledger
BEGIN
    SELECT RAISE(ABORT, 'payment_ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER payment_ledger_no_delete BEFORE DELETE ON payment_ledger
BEGIN
    SELECT RAISE(ABORT, 'payment_ledger is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER payment_ledger_no_delete;
DROP TRIGGER payment_ledger_no_update;
