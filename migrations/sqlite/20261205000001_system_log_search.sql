-- Searching the system log's messages through an index: a trigram full-text index of
-- `system_log.message` (external content, so the text is not stored twice), kept in step
-- with the table by triggers. A phrase of three characters or more is a sequence of
-- trigrams, which finds the text anywhere in a message, in any case.
--
-- The index refers to a record by its rowid, which VACUUM may renumber unless the table
-- names it: the table is rebuilt with `seq INTEGER PRIMARY KEY` for the index to hold.
CREATE TABLE system_log_next (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    at         TEXT NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('error', 'warn', 'info')),
    category   TEXT NOT NULL,
    message    TEXT NOT NULL,
    fields     TEXT NOT NULL,
    request_id TEXT,
    run_id     TEXT
);
INSERT INTO system_log_next (id, at, level, category, message, fields, request_id, run_id)
SELECT id, at, level, category, message, fields, request_id, run_id FROM system_log ORDER BY id;
DROP TABLE system_log;
ALTER TABLE system_log_next RENAME TO system_log;
CREATE INDEX system_log_level ON system_log (level, id);
CREATE INDEX system_log_category ON system_log (category, id);
CREATE INDEX system_log_request ON system_log (request_id, id);
CREATE INDEX system_log_run ON system_log (run_id, id);

CREATE VIRTUAL TABLE system_log_text USING fts5 (
    message,
    content = 'system_log',
    content_rowid = 'seq',
    tokenize = 'trigram'
);
INSERT INTO system_log_text (system_log_text) VALUES ('rebuild');
CREATE TRIGGER system_log_text_added AFTER INSERT ON system_log BEGIN
    INSERT INTO system_log_text (rowid, message) VALUES (new.seq, new.message);
END;
CREATE TRIGGER system_log_text_removed AFTER DELETE ON system_log BEGIN
    INSERT INTO system_log_text (system_log_text, rowid, message)
    VALUES ('delete', old.seq, old.message);
END;
