-- Chat threads of an agent, their messages, and runs.

CREATE TABLE threads (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('chat', 'scheduled', 'manual', 'webhook')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX threads_agent ON threads (agent_id, id);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    thread_id         TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content           TEXT NOT NULL,
    -- JSON array of {id, name, arguments}, on assistant messages that call tools.
    tool_calls        TEXT,
    tool_call_id      TEXT,
    tool_name         TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    -- Set when the reply was cut off (cancelled or failed mid-stream).
    cut_off           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TEXT NOT NULL
);
CREATE INDEX messages_thread ON messages (thread_id, id);

CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    thread_id         TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    triggered_by      TEXT NOT NULL CHECK (triggered_by IN ('chat', 'manual', 'schedule', 'webhook', 'api')),
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    -- In millionths of a dollar.
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT
);
CREATE INDEX runs_agent ON runs (agent_id, created_at);
-- At most one active run per thread: a second one is refused by the database itself.
CREATE UNIQUE INDEX runs_one_active_per_thread ON runs (thread_id) WHERE status IN ('queued', 'running');
CREATE INDEX runs_active ON runs (status) WHERE status IN ('queued', 'running');
