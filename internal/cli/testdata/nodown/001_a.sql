-- pgmig:up
CREATE TABLE nd_a (id int);

-- pgmig:down
DROP TABLE nd_a;
