-- pgmig:up
-- pgmig:no-transaction
CREATE INDEX CONCURRENTLY items_sku ON items (sku);
CREATE INDEX CONCURRENTLY items_price ON items (price);

-- pgmig:down
-- pgmig:no-transaction
DROP INDEX CONCURRENTLY items_price;
DROP INDEX CONCURRENTLY items_sku;
