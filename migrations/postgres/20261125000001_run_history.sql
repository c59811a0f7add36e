-- Run history, newest first by (created_at, id): one agent's runs, and everyone's.
DROP INDEX runs_agent;
CREATE INDEX runs_agent_created ON runs (agent_id, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);
