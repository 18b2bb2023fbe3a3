-- golang-migrate users often wrap a file in its own transaction.
BEGIN;
CREATE TABLE gm_orders (
    id      bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES gm_users (id),
    total   numeric(12, 2) NOT NULL CHECK (total >= 0)
);
CREATE FUNCTION gm_order_count(uid bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM gm_orders WHERE user_id = uid);
END;
$$;
COMMIT;
