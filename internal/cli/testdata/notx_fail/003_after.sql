CREATE TABLE after_failed (id int);
