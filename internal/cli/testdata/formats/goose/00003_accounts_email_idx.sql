-- +goose NO TRANSACTION

-- +goose Up
CREATE UNIQUE INDEX CONCURRENTLY goose_accounts_email ON goose_accounts (lower(email));

-- +goose Down
DROP INDEX CONCURRENTLY goose_accounts_email;
