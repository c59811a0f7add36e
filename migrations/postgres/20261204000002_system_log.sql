-- The system log: the server's warnings and errors (and information from chosen
-- categories), written in batches. Ids are UUIDv7, so the id order is the time order and
-- a time range is an id range. The other fields of a record are a JSON object, as text.
CREATE TABLE system_log (
    id         TEXT COLLATE "C" PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('error', 'warn', 'info')),
    category   TEXT NOT NULL,
    message    TEXT NOT NULL,
    fields     TEXT NOT NULL,
    request_id TEXT COLLATE "C",
    run_id     TEXT COLLATE "C"
);
CREATE INDEX system_log_level ON system_log (level, id);
CREATE INDEX system_log_category ON system_log (category, id);
CREATE INDEX system_log_request ON system_log (request_id, id);
CREATE INDEX system_log_run ON system_log (run_id, id);
