-- pgmig:up
CREATE TABLE nd_c (id int);

-- pgmig:down
DROP TABLE nd_c;
