-- Agents kept as files in the server's agents directory: the file that defines each, when
-- it was last read (its modification time, in nanoseconds since 1970), why its current
-- content is not in force (it does not parse, or it was deleted), and the role it takes
-- when added to a room without one. One agent per file.
ALTER TABLE agents ADD COLUMN file_path TEXT;
ALTER TABLE agents ADD COLUMN file_modified_ns INTEGER;
ALTER TABLE agents ADD COLUMN file_error TEXT;
ALTER TABLE agents ADD COLUMN file_room_role TEXT
    CHECK (file_room_role IN ('participant', 'critic'));
CREATE UNIQUE INDEX agents_file_path ON agents (file_path);
