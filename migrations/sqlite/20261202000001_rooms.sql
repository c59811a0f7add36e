-- Rooms: several agents and people in one conversation. Each agent's turns are runs
-- (`triggered_by = 'room'`) in a thread of its own per room (`kind = 'room'`).
--
-- SQLite cannot change a CHECK constraint in place, so `threads`, `messages` and `runs` are
-- rebuilt with the same columns in the same order and their indexes made again. The new
-- tables are filled before the old ones are dropped, children first, so that no cascade
-- deletes anything; renaming the new `threads` points its children's references at it.
CREATE TABLE threads_rebuilt (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('chat', 'scheduled', 'manual', 'webhook', 'room')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO threads_rebuilt SELECT * FROM threads;

CREATE TABLE messages_rebuilt (
    id                TEXT PRIMARY KEY,
    thread_id         TEXT NOT NULL REFERENCES threads_rebuilt (id) ON DELETE CASCADE,
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
INSERT INTO messages_rebuilt SELECT * FROM messages;

CREATE TABLE runs_rebuilt (
    id                TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    thread_id         TEXT NOT NULL REFERENCES threads_rebuilt (id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    triggered_by      TEXT NOT NULL CHECK (triggered_by IN ('chat', 'manual', 'schedule', 'webhook', 'api', 'room')),
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    -- In millionths of a dollar.
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    owner_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO runs_rebuilt SELECT * FROM runs;

DROP TABLE runs;
DROP TABLE messages;
DROP TABLE threads;
ALTER TABLE threads_rebuilt RENAME TO threads;
ALTER TABLE messages_rebuilt RENAME TO messages;
ALTER TABLE runs_rebuilt RENAME TO runs;

CREATE INDEX threads_agent ON threads (agent_id, id);
CREATE INDEX messages_thread ON messages (thread_id, id);
CREATE UNIQUE INDEX runs_one_active_per_thread ON runs (thread_id) WHERE status IN ('queued', 'running');
CREATE INDEX runs_active ON runs (status) WHERE status IN ('queued', 'running');
CREATE INDEX runs_agent_created ON runs (agent_id, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_agent_trigger ON runs (agent_id, triggered_by, created_at);
CREATE INDEX runs_owner_created ON runs (owner_id, created_at, id);

CREATE TABLE rooms (
    id                        TEXT PRIMARY KEY,
    owner_id                  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                      TEXT NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    state                     TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'running', 'paused')),
    turn_policy               TEXT NOT NULL CHECK (turn_policy IN ('round_robin', 'all_at_once')),
    max_rounds_per_message    INTEGER NOT NULL CHECK (max_rounds_per_message BETWEEN 1 AND 20),
    max_turns                 INTEGER NOT NULL CHECK (max_turns >= 1),
    -- In millionths of a dollar; NULL: no cap.
    daily_cost_cap_micros     INTEGER CHECK (daily_cost_cap_micros >= 0),
    pass_marker               TEXT NOT NULL,
    critics_visible_to_agents BOOLEAN NOT NULL DEFAULT FALSE,
    context_tokens            INTEGER NOT NULL CHECK (context_tokens BETWEEN 200 AND 100000),
    turns_taken               INTEGER NOT NULL DEFAULT 0,
    -- What the room's agents spent on `spent_day` (UTC, `2026-12-02`), in millionths.
    spent_day                 TEXT NOT NULL DEFAULT '',
    spent_micros              INTEGER NOT NULL DEFAULT 0,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX rooms_state ON rooms (state) WHERE state <> 'idle';

CREATE TABLE room_members (
    room_id   TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    agent_id  TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('participant', 'critic')),
    position  INTEGER NOT NULL CHECK (position >= 0),
    -- The agent's thread in this room, once it has taken a turn.
    thread_id TEXT REFERENCES threads (id) ON DELETE SET NULL,
    PRIMARY KEY (room_id, agent_id)
);
CREATE INDEX room_members_agent ON room_members (agent_id);

CREATE TABLE room_messages (
    id                TEXT PRIMARY KEY,
    room_id           TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    author_kind       TEXT NOT NULL CHECK (author_kind IN ('person', 'agent', 'system')),
    -- The user or agent; kept (with the name) when they are deleted.
    author_id         TEXT,
    author_name       TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('message', 'critique', 'system')),
    content           TEXT NOT NULL,
    run_id            TEXT,
    critique_of       TEXT REFERENCES room_messages (id) ON DELETE CASCADE,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    interrupted       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TEXT NOT NULL
);
CREATE INDEX room_messages_room_created ON room_messages (room_id, created_at, id);
CREATE INDEX room_messages_room_author ON room_messages (room_id, author_id);
CREATE INDEX room_messages_critique_of ON room_messages (critique_of);
