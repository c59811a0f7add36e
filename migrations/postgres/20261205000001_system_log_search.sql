-- Searching the system log's messages through an index: trigrams of the lower-cased
-- message (pg_trgm, a trusted extension that ships with PostgreSQL), which a
-- `LOWER(message) LIKE '%text%'` seeks through.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX system_log_message ON system_log USING gin (LOWER(message) gin_trgm_ops);
