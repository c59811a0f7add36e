-- Rooms: several agents and people in one conversation. Each agent's turns are runs
-- (`triggered_by = 'room'`) in a thread of its own per room (`kind = 'room'`).
ALTER TABLE threads DROP CONSTRAINT threads_kind_check;
ALTER TABLE threads ADD CONSTRAINT threads_kind_check
    CHECK (kind IN ('chat', 'scheduled', 'manual', 'webhook', 'room'));
ALTER TABLE runs DROP CONSTRAINT runs_triggered_by_check;
ALTER TABLE runs ADD CONSTRAINT runs_triggered_by_check
    CHECK (triggered_by IN ('chat', 'manual', 'schedule', 'webhook', 'api', 'room'));

CREATE TABLE rooms (
    id                        TEXT COLLATE "C" PRIMARY KEY,
    owner_id                  TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                      TEXT NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    state                     TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'running', 'paused')),
    turn_policy               TEXT NOT NULL CHECK (turn_policy IN ('round_robin', 'all_at_once')),
    max_rounds_per_message    BIGINT NOT NULL CHECK (max_rounds_per_message BETWEEN 1 AND 20),
    max_turns                 BIGINT NOT NULL CHECK (max_turns >= 1),
    -- In millionths of a dollar; NULL: no cap.
    daily_cost_cap_micros     BIGINT CHECK (daily_cost_cap_micros >= 0),
    pass_marker               TEXT NOT NULL,
    critics_visible_to_agents BOOLEAN NOT NULL DEFAULT FALSE,
    context_tokens            BIGINT NOT NULL CHECK (context_tokens BETWEEN 200 AND 100000),
    turns_taken               BIGINT NOT NULL DEFAULT 0,
    -- What the room's agents spent on `spent_day` (UTC, `2026-12-02`), in millionths.
    spent_day                 TEXT NOT NULL DEFAULT '',
    spent_micros              BIGINT NOT NULL DEFAULT 0,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX rooms_state ON rooms (state) WHERE state <> 'idle';

CREATE TABLE room_members (
    room_id   TEXT COLLATE "C" NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    agent_id  TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('participant', 'critic')),
    position  BIGINT NOT NULL CHECK (position >= 0),
    -- The agent's thread in this room, once it has taken a turn.
    thread_id TEXT COLLATE "C" REFERENCES threads (id) ON DELETE SET NULL,
    PRIMARY KEY (room_id, agent_id)
);
CREATE INDEX room_members_agent ON room_members (agent_id);

CREATE TABLE room_messages (
    id                TEXT COLLATE "C" PRIMARY KEY,
    room_id           TEXT COLLATE "C" NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    author_kind       TEXT NOT NULL CHECK (author_kind IN ('person', 'agent', 'system')),
    -- The user or agent; kept (with the name) when they are deleted.
    author_id         TEXT COLLATE "C",
    author_name       TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('message', 'critique', 'system')),
    content           TEXT NOT NULL,
    run_id            TEXT COLLATE "C",
    critique_of       TEXT COLLATE "C" REFERENCES room_messages (id) ON DELETE CASCADE,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros       BIGINT NOT NULL DEFAULT 0,
    interrupted       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX room_messages_room_created ON room_messages (room_id, created_at, id);
CREATE INDEX room_messages_room_author ON room_messages (room_id, author_id);
CREATE INDEX room_messages_critique_of ON room_messages (critique_of);
