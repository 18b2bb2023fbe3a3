CREATE TABLE conc_5 (id int);
UPDATE counter SET n = n + 1;
SELECT pg_sleep(0.05);
