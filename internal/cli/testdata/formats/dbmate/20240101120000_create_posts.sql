-- migrate:up
CREATE TABLE dbmate_posts (
    id    bigserial PRIMARY KEY,
    title text NOT NULL,
    body  text NOT NULL DEFAULT ''
);

-- migrate:down
DROP TABLE dbmate_posts;
