-- pgmig:up
-- pgmig:no-transaction
CREATE INDEX CONCURRENTLY items_sku ON items (sku);
-- The expression names a column that does not exist.
CREATE INDEX CONCURRENTLY items_expr ON items ((price * 2 + no_such_column));
CREATE INDEX CONCURRENTLY items_price ON items (price);
