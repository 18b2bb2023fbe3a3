-- V1__init
CREATE TABLE products (id int);
