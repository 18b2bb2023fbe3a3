CREATE TABLE bad_ok (id int);
