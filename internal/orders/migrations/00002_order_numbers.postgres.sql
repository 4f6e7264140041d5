-- +goose Up
-- Order numbers come from a sequence: no lock on any table, and no number is
-- handed out twice (a rolled-back checkout leaves a gap, which is fine).
CREATE SEQUENCE order_numbers START WITH 10001;

-- +goose Down
DROP SEQUENCE order_numbers;
