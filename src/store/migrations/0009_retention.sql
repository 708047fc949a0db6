-- Retention (`[store] keep`, `[[output]] keep`): what pruning old items needs. Portable SQL, as
-- in 0001. (0008 is another change's.)
--
-- A pruned item leaves a tombstone: its id (the hash of its source and key, as `items.id`) and
-- its source. While the source's feed still carries the item, storing that feed finds the
-- tombstone and does not store the item again as new (it would come back to every output as a
-- new entry, and be pruned again a `keep` later, over and over). Each time the feed is read, the
-- tombstones of items it no longer carries go: a source never has more tombstones than its feed
-- has items.
CREATE TABLE IF NOT EXISTS item_tombstones (
    id BIGINT PRIMARY KEY,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS item_tombstones_source ON item_tombstones (source);

-- Pruning drops an exact group's keys once no item is left in the group: found by group.
CREATE INDEX IF NOT EXISTS exact_keys_group ON exact_keys (exact_id);
