--
-- PostgreSQL database dump
--

\restrict 9fQpT1xZk2bWc0sLmN4vR8yHd6uJe3aG

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
SET standard_conforming_strings = on;

CREATE TABLE public.notes (
    id integer NOT NULL,
    body text
);

COPY public.notes (id, body) FROM stdin;
1	it's; not SQL
2	-- pgmig:down
3	$$ open
4	\N
\.

CREATE FUNCTION public.note_count() RETURNS bigint
    LANGUAGE plpgsql
    AS $$
BEGIN
  RETURN (SELECT count(*) FROM public.notes);
END;
$$;

ALTER TABLE ONLY public.notes
    ADD CONSTRAINT notes_pkey PRIMARY KEY (id);

\unrestrict 9fQpT1xZk2bWc0sLmN4vR8yHd6uJe3aG
