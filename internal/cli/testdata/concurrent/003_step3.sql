CREATE TABLE conc_3 (id int);
UPDATE counter SET n = n + 1;
SELECT pg_sleep(0.05);
