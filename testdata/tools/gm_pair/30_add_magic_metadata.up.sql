ALTER TABLE items ADD COLUMN magic_metadata jsonb;
