-- pgmig:no-transaction
DROP INDEX CONCURRENTLY orders_note;
