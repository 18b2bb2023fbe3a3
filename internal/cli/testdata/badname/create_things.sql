CREATE TABLE bad_x (id int);
