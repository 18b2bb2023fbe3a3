CREATE TABLE killed_slow (id int);
SELECT pg_sleep(3);
