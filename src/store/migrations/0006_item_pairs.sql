-- What the folding pass found pairs of items to be. Portable SQL, as in 0001.
--
-- One row per pair that ties two items together, the lower item id in `a`: `kind` 0 is a link
-- (the same exact group, or one story in a store from before this table: those stay
-- together), 1 the same story (with its similarity `score`). Conflicts and pairs judged apart
-- are not kept: a folding pass judges every pair among the items tied to its new ones again.
-- It works out the stories of everything tied to its new items through these rows, together,
-- so the stories depend on the stored items and not on the order they arrived in.
CREATE TABLE IF NOT EXISTS item_pairs (
    a BIGINT NOT NULL,
    b BIGINT NOT NULL,
    kind BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE INDEX IF NOT EXISTS item_pairs_b ON item_pairs (b);

INSERT INTO item_pairs (a, b, kind, score)
SELECT s.first_id, i.id, 0, 1.0
FROM items i
JOIN (SELECT story_id, MIN(id) AS first_id FROM items WHERE story_id IS NOT NULL GROUP BY story_id) s
  ON s.story_id = i.story_id
WHERE i.id <> s.first_id;
