-- golang-migrate sends a one-statement file alone.
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_sku ON items (sku);
