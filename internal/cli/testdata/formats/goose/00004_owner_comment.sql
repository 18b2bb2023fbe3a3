-- +goose Up
-- +goose ENVSUB ON
COMMENT ON TABLE goose_accounts IS 'owned by ${ACCOUNTS_OWNER:-platform}';
-- +goose ENVSUB OFF

-- +goose Down
COMMENT ON TABLE goose_accounts IS NULL;
