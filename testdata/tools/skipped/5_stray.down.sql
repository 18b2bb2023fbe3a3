DROP TABLE stray;
