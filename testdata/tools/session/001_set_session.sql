-- pgmig:up
-- Session settings, as a pg_dump file or a hand-written migration makes
-- them. The test creates the role pgmig_session_probe before it runs.
CREATE TABLE public.session_seen (
  search_path       text,
  work_mem          text,
  statement_timeout text,
  current_role_name text,
  session_role_name text
);
SET search_path = '';
SET work_mem = '7MB';
SET statement_timeout = '1234s';
SET ROLE pgmig_session_probe;
-- pgmig:down
DROP TABLE public.session_seen;
