-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION goose_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER goose_accounts_touch BEFORE UPDATE ON goose_accounts
    FOR EACH ROW EXECUTE FUNCTION goose_touch();

-- +goose Down
DROP TRIGGER goose_accounts_touch ON goose_accounts;
DROP FUNCTION goose_touch();
