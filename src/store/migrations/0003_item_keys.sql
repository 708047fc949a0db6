-- The near-duplicate index, one row per item instead of one per band key. Portable SQL, as in 0001
-- (BYTEA is PostgreSQL's binary type; SQLite stores the bytes as a BLOB under any type name).
--
-- `band_keys` holds the item's MinHash-LSH band keys (every channel, in order) packed as 8-byte
-- little-endian integers; `compared_at` is the time the item is compared by (its publication, else when it
-- was first seen), so the folding pass reads only the keys of items close enough in time to fold
-- with the new ones. The folding pass builds the inverted index (band key -> items) in memory from
-- these rows: 48 rows per item in a table with two secondary indexes cost more to write than the
-- rest of storing an item.
--
-- An item has a row here exactly when it has a story. Rows copied from the old `lsh` table have
-- no keys yet (NULL): the store rebuilds them from the stored comparison text when it opens
-- (the keys depend on that text only), so a store created by an earlier version keeps folding as
-- before.
CREATE TABLE IF NOT EXISTS item_keys (
    item_id BIGINT PRIMARY KEY,
    compared_at BIGINT NOT NULL,
    band_keys BYTEA
);
CREATE INDEX IF NOT EXISTS item_keys_at ON item_keys (compared_at);
-- Rows whose keys are still to be rebuilt (none, once a store has been opened by this version).
CREATE INDEX IF NOT EXISTS item_keys_todo ON item_keys (item_id) WHERE band_keys IS NULL;

INSERT INTO item_keys (item_id, compared_at, band_keys)
SELECT id, COALESCE(published, first_seen), NULL FROM items WHERE story_id IS NOT NULL;

DROP INDEX IF EXISTS lsh_key;
DROP INDEX IF EXISTS lsh_item;
DROP TABLE IF EXISTS lsh;
