CREATE TABLE killed_first (id int);
