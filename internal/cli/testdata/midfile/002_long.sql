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
INSERT INTO mid_c VALUES (26);
INSERT INTO mid_c VALUES (27);
INSERT INTO mid_c VALUES (28);
INSERT INTO mid_c VALUES (29);
INSERT INTO mid_c VALUES (30);
INSERT INTO mid_c VALUES (31);
INSERT INTO mid_c VALUES (32);
INSERT INTO mid_c VALUES (33);
INSERT INTO mid_c VALUES (34);
INSERT INTO mid_c VALUES (35);
INSERT INTO mid_c VALUES (36);
INSERT INTO mid_c VALUES (37);

-- pgmig:down
DROP TABLE mid_c, mid_b, mid_a;
