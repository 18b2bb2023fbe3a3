-- Flyway runs this file outside a transaction by itself.
CREATE INDEX CONCURRENTLY items_sku ON items (sku);
VACUUM ANALYZE items;
