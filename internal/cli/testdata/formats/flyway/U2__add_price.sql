ALTER TABLE fw_products DROP COLUMN price_cents;
