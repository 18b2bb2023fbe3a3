-- +goose Up
CREATE TABLE accounts (id bigint PRIMARY KEY, email text);
-- +goose Down
DROP TABLE accounts;
