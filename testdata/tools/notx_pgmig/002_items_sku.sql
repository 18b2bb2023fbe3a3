-- pgmig:up
-- The index is built without blocking writes.
CREATE INDEX CONCURRENTLY items_sku ON items (sku);
-- pgmig:down
DROP INDEX items_sku;
