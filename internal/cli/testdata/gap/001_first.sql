-- pgmig:up
CREATE TABLE gap_first (id int);

-- pgmig:down
DROP TABLE gap_first;
