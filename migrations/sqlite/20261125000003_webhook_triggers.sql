-- Webhook triggers of an agent. Secrets are sealed (encrypted and authenticated) with the
-- server's key; the previous secret stays valid for a while after a rotation.
CREATE TABLE triggers (
    id                    TEXT PRIMARY KEY,
    agent_id              TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    sealed_secret         TEXT NOT NULL,
    sealed_previous       TEXT,
    previous_valid_until  TEXT,
    created_at            TEXT NOT NULL,
    rotated_at            TEXT
);
CREATE INDEX triggers_agent ON triggers (agent_id, id);

-- Requests received by a trigger, kept for a retention period.
CREATE TABLE trigger_deliveries (
    id           TEXT PRIMARY KEY,
    trigger_id   TEXT NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    received_at  TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    status_code  INTEGER NOT NULL,
    run_id       TEXT,
    error        TEXT,
    -- The signature of an accepted delivery: the same one again is a replay.
    signature    TEXT
);
CREATE INDEX trigger_deliveries_trigger ON trigger_deliveries (trigger_id, id);
CREATE UNIQUE INDEX trigger_deliveries_signature ON trigger_deliveries (trigger_id, signature)
    WHERE signature IS NOT NULL;
CREATE INDEX trigger_deliveries_received ON trigger_deliveries (received_at);
