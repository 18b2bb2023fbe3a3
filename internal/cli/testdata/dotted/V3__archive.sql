CREATE TABLE archive (id bigint);
