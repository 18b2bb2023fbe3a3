CREATE TABLE fw_products (
    id   bigserial PRIMARY KEY,
    name text NOT NULL
);
