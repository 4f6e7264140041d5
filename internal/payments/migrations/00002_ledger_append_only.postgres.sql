-- +goose Up
-- The ledger is append-only: no UPDATE or DELETE, whoever asks.
-- +goose StatementBegin
CREATE FUNCTION payment_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_ledger is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER payment_ledger_no_update BEFORE UPDATE OR DELETE ON payment_ledger
    FOR EACH ROW EXECUTE FUNCTION payment_ledger_append_only();

-- +goose Down
DROP TRIGGER payment_ledger_no_update ON payment_ledger;
DROP FUNCTION payment_ledger_append_only();
