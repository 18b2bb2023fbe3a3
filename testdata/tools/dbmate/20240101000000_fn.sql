-- migrate:up
CREATE TABLE counters (n int);
  -- migrate:down
-- (indented, so dbmate reads the line above as a comment: still up)
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
-- migrate:down
  NEW.n := NEW.n + 1;
  RETURN NEW;
END
$$;

-- migrate:down
DROP FUNCTION bump();
DROP TABLE counters;
