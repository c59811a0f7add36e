-- Times an agent's schedule came round without a run (the last one still going, missed
-- while the server was down, ...), newest first per agent.
CREATE TABLE schedule_skips (
    id         TEXT COLLATE "C" PRIMARY KEY,
    agent_id   TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    due_at     TIMESTAMPTZ NOT NULL,
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedule_skips_agent ON schedule_skips (agent_id, due_at);
-- Scheduled runs of an agent, newest first, to count failures in a row.
CREATE INDEX runs_agent_trigger ON runs (agent_id, triggered_by, created_at);
