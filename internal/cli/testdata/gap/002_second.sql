-- pgmig:up
CREATE TABLE gap_second (id int);

-- pgmig:down
DROP TABLE gap_second;
