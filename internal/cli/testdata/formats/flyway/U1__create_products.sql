DROP TABLE fw_products;
