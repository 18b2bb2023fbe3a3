-- migrate:up
ALTER TABLE dbmate_posts ADD COLUMN slug text;
CREATE FUNCTION dbmate_slug(t text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT regexp_replace(lower(t), '[^a-z0-9]+', '-', 'g'); $$;
UPDATE dbmate_posts SET slug = dbmate_slug(title);

-- migrate:down
DROP FUNCTION dbmate_slug(text);
ALTER TABLE dbmate_posts DROP COLUMN slug;
