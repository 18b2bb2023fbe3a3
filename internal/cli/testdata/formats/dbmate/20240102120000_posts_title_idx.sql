-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY dbmate_posts_title ON dbmate_posts (title);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY dbmate_posts_title;
