-- Accounts (users, browser sessions, API tokens) and agents.
-- Times are stored as RFC 3339 text in UTC; ids are UUIDv7 text, so they sort by creation.

-- When the first-run admin account was created through the browser (claimed once).
ALTER TABLE installation ADD COLUMN setup_at TEXT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    -- The email as compared: trimmed and lower-cased by the server.
    email_key     TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    -- argon2id PHC string; NULL for an account that cannot sign in with a password.
    password_hash TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex: the token itself is never stored.
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- SHA-256 of the token, hex.
    token_hash   TEXT NOT NULL UNIQUE,
    -- The token's first characters, to recognise it in a list.
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE agents (
    id                  TEXT PRIMARY KEY,
    owner_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    system_instructions TEXT NOT NULL,
    task_instructions   TEXT NOT NULL,
    model               TEXT NOT NULL,
    temperature         REAL NOT NULL CHECK (temperature >= 0 AND temperature <= 2),
    -- JSON array of tool names.
    tools               TEXT NOT NULL,
    schedule            TEXT,
    time_zone           TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('idle', 'running', 'error', 'disabled')),
    last_error          TEXT,
    last_run_at         TEXT,
    next_run_at         TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
-- "My agents", newest first, by cursor.
CREATE INDEX agents_owner ON agents (owner_id, id);
-- Due scheduled agents.
CREATE INDEX agents_next_run ON agents (next_run_at) WHERE next_run_at IS NOT NULL;
