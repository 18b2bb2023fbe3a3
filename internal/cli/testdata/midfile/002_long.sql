-- pgmig:up
-- A long migration: the failure is on line 23,
-- after statements that already ran (café, 日本語).
CREATE TABLE mid_a (
  id    int PRIMARY KEY,
  label text NOT NULL DEFAULT 'é'
);

INSERT INTO mid_a (id, label) VALUES
  (1, 'crème brûlée'),
  (2, '日本');

CREATE TABLE mid_b (
  id    int PRIMARY KEY REFERENCES mid_a (id),
  note  text
);

CREATE INDEX mid_b_note ON mid_b (note);

INSERT INTO mid_b (id, note) VALUES (1, 'ok');

-- The next statement is the broken one.
-- BROKEN: the test puts each case's failing statement on this line.

CREATE TABLE mid_c (id int);
-- What follows the broken statement never runs: the migration stops at
-- line 23, and its transaction, mid_c with it, is rolled back.
INSERT INTO mid_c
SELECT g
FROM generate_series(26, 37) AS g;
CREATE INDEX mid_c_id ON mid_c (id);
COMMENT ON TABLE mid_c IS 'never made';
ALTER TABLE mid_c
  ADD COLUMN note text,
  ALTER COLUMN note SET DEFAULT 'fin';
UPDATE mid_c
SET note = NULL;

-- pgmig:down
DROP TABLE mid_c, mid_b, mid_a;
