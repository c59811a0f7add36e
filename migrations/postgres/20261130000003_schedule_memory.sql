-- How many earlier scheduled runs a scheduled run sees of its thread: a rolling context
-- instead of the whole thread, whose cost would grow with every run.
ALTER TABLE agents ADD COLUMN schedule_memory_runs BIGINT NOT NULL DEFAULT 10
    CHECK (schedule_memory_runs BETWEEN 0 AND 100);
