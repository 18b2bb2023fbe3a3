ALTER TABLE fw_products ADD COLUMN price_cents integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0);
