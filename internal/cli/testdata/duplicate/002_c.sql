-- pgmig:up
CREATE TABLE dup_c (id int);
