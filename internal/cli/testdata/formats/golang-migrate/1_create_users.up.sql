BEGIN;

CREATE TABLE gm_users (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX gm_users_created_at ON gm_users (created_at);

COMMIT;
