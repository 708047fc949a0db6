-- Leases: which process fetches a source now, and when the source is next due, so several
-- daemons (and `fetch` runs) sharing one database fetch each due source exactly once. Portable
-- SQL, as in 0001; times are unix milliseconds.
--
-- A process takes a source's lease before fetching it, in one conditional upsert: only when
-- nobody holds it or the holder's lease has expired (and, for a daemon, only when the source is
-- due). After storing what it fetched it gives the lease back with the time the source is next
-- due. A process that dies keeps its leases until they expire; then the others take them.
CREATE TABLE IF NOT EXISTS leases (
    source TEXT PRIMARY KEY,
    -- `host:pid:suffix` of the process holding the lease; NULL when free.
    holder TEXT,
    expires_ms BIGINT NOT NULL DEFAULT 0,
    due_ms BIGINT NOT NULL DEFAULT 0
);
