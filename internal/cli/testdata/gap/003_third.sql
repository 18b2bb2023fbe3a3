-- pgmig:up
CREATE TABLE gap_third (id int);

-- pgmig:down
DROP TABLE gap_third;
