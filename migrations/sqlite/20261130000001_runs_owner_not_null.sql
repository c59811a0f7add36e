-- A run always carries its agent's owner: `owner_id` is NOT NULL, as it has been on
-- PostgreSQL since it was added. SQLite cannot add a constraint to a column in place, so the
-- table is rebuilt with the same columns in the same order and its indexes made again. No
-- table refers to `runs`, so dropping the old one takes nothing else with it.
CREATE TABLE runs_rebuilt (
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
    finished_at       TEXT,
    owner_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO runs_rebuilt
SELECT id, agent_id, thread_id, status, triggered_by, model, prompt_tokens, completion_tokens,
       cost_micros, error, created_at, started_at, finished_at,
       COALESCE(owner_id, (SELECT owner_id FROM agents WHERE agents.id = runs.agent_id))
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_rebuilt RENAME TO runs;

CREATE UNIQUE INDEX runs_one_active_per_thread ON runs (thread_id) WHERE status IN ('queued', 'running');
CREATE INDEX runs_active ON runs (status) WHERE status IN ('queued', 'running');
CREATE INDEX runs_agent_created ON runs (agent_id, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_agent_trigger ON runs (agent_id, triggered_by, created_at);
CREATE INDEX runs_owner_created ON runs (owner_id, created_at, id);
