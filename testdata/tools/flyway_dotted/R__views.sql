CREATE OR REPLACE VIEW product_names AS SELECT id FROM products;
