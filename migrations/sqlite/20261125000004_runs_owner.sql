-- Each run carries its agent's owner, so that "my runs" is read newest first through an
-- index of its own.
ALTER TABLE runs ADD COLUMN owner_id TEXT REFERENCES users (id) ON DELETE CASCADE;
UPDATE runs SET owner_id = (SELECT owner_id FROM agents WHERE agents.id = runs.agent_id);
CREATE INDEX runs_owner_created ON runs (owner_id, created_at, id);
