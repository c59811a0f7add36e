-- This installation's identity, created once with the database.
CREATE TABLE installation (
    id              INTEGER     PRIMARY KEY CHECK (id = 1),
    installation_id TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);

INSERT INTO installation (id, installation_id, created_at)
VALUES (1, replace(gen_random_uuid()::text, '-', ''), now());
