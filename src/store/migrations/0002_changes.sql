-- What an output was last written from, so a cycle that changed nothing an output shows does not
-- write it again. Portable SQL, as in 0001.

-- A counter per source, raised by every write that changes what an output drawing from that
-- source shows: new or changed items, and the stories and regions of its items.
CREATE TABLE IF NOT EXISTS source_changes (
    source TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);

-- The fingerprint (output settings, program, generations of its sources) each output's files
-- were last written from, by the path of the files without their extension.
CREATE TABLE IF NOT EXISTS published (
    path TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
