-- Orders placed by users.
-- pgmig:up
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note text DEFAULT 'it''s; fine'
);

CREATE FUNCTION order_count() RETURNS bigint
LANGUAGE sql
BEGIN ATOMIC
  SELECT count(*) FROM orders;
END;

-- pgmig:down
DROP FUNCTION order_count();
DROP TABLE orders;
