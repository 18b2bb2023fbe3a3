-- pgmig:no-transaction
CREATE INDEX CONCURRENTLY orders_note ON orders (note);
