-- +goose Up
CREATE TABLE goose_accounts (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE goose_accounts;
