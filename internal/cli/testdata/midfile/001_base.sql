-- pgmig:up
CREATE TABLE base (id int PRIMARY KEY);

-- pgmig:down
DROP TABLE base;
