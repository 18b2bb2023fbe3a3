-- pgmig:up
-- Names are qualified: this file must record what it finds, whatever the
-- search_path.
INSERT INTO public.session_seen
SELECT pg_catalog.current_setting('search_path'), pg_catalog.current_setting('work_mem'),
       pg_catalog.current_setting('statement_timeout'), current_user, session_user;
-- pgmig:down
DELETE FROM public.session_seen;
