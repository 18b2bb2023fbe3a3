DROP TABLE archive;
