ALTER TABLE gm_users DROP COLUMN display_name;
