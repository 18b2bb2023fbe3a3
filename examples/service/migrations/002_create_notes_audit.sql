-- pgmig:up
-- The service's own audit table, with the columns repo's audit writes.
-- user_id references nothing: the service's users live elsewhere.
CREATE TABLE notes_audit (
  id bigserial PRIMARY KEY,
  user_id uuid,
  action text NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  changes jsonb,
  ip_address inet,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_audit_resource ON notes_audit (resource_type, resource_id, created_at);

-- pgmig:down
DROP TABLE notes_audit;
