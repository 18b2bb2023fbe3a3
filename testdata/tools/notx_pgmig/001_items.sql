-- pgmig:up
CREATE TABLE items (id bigint PRIMARY KEY, sku text);
-- pgmig:down
DROP TABLE items;
