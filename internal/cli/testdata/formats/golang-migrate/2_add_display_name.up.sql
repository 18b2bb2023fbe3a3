ALTER TABLE gm_users ADD COLUMN display_name text;
UPDATE gm_users SET display_name = split_part(email, '@', 1);
