-- What a feed says of an item beyond its core fields (contributors, rights, source feed,
-- comments, geo point, podcast fields … as one JSON object, `model::Extras`), and the title as
-- sanitised HTML when the feed gave it as HTML. Portable SQL, as in 0001. Rows from before
-- read as "nothing more said".
ALTER TABLE items ADD COLUMN extras TEXT NOT NULL DEFAULT '{}';
ALTER TABLE item_bodies ADD COLUMN title_html TEXT;

-- Facts about the store itself, one number per key.
CREATE TABLE IF NOT EXISTS store_meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- Entry ids became unique per output with this version. Stories whose earliest copy was first
-- stored before now keep the id every output gave them until then, so no reader sees a story
-- it already has as new (see `output`, "Entry ids"): the cutoff is one second after the newest
-- item stored, 0 for a new store.
INSERT INTO store_meta (key, value)
SELECT 'legacy_ids_before', COALESCE(MAX(first_seen) + 1, 0) FROM items;
