BEGIN;
DROP FUNCTION gm_order_count(bigint);
DROP TABLE gm_orders;
COMMIT;
