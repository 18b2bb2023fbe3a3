CREATE TABLE bad_y (id int);
