-- The audit log: one row per change a person, a token or the server made, written in the
-- same transaction as the change. Ids are UUIDv7, so the id order is the time order and a
-- time range is an id range. No foreign keys: a record outlives what it is about. The
-- action is checked by the server (new actions need no migration).
CREATE TABLE audit_log (
    id              TEXT COLLATE "C" PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
    actor_user_id   TEXT COLLATE "C",
    actor_token_id  TEXT COLLATE "C",
    action          TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target_id       TEXT COLLATE "C" NOT NULL,
    -- The account the record is about (the object's owner, or the account itself): who
    -- besides admins may read it.
    subject_user_id TEXT COLLATE "C",
    summary         TEXT NOT NULL,
    client_address  TEXT,
    request_id      TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target_id, id);
