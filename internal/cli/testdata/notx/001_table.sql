-- pgmig:up
CREATE TABLE items (id int PRIMARY KEY, sku text, price numeric);
INSERT INTO items SELECT g, 'sku-' || g, g FROM generate_series(1, 100) g;

-- pgmig:down
DROP TABLE items;
