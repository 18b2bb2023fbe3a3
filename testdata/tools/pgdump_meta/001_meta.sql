CREATE TABLE t (id int);
SELECT '
\connect inside a string
';
\connect other
SELECT 1;
  \gset
