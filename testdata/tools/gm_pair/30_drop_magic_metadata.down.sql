ALTER TABLE items DROP COLUMN magic_metadata;
