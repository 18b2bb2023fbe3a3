-- No down section: this migration cannot be rolled back.
CREATE TABLE nd_b (id int);
