-- An item's bulky columns (its sanitised HTML and its comparison text) move to a table of their
-- own, so `items` rows stay a few hundred bytes. Portable SQL, as in 0001.
--
-- With the HTML inline an item row took 3-6 KB, spilling into overflow pages: reading any column
-- after the HTML (story, regions, times) walked the whole row, and the folding pass, which sets
-- `story_id` and `regions` on every new item, rewrote every byte of it. Benchmark (iv)'s cold
-- cycle spent about 1.5 s of its 10 s there. `body_len` keeps the length the output selection
-- ranks copies by (bytes of the content, else of the summary), so selecting reads no HTML.
CREATE TABLE IF NOT EXISTS item_bodies (
    id BIGINT PRIMARY KEY,
    summary_html TEXT,
    content_html TEXT,
    cmp_title TEXT NOT NULL DEFAULT '',
    cmp_body TEXT NOT NULL DEFAULT ''
);

INSERT INTO item_bodies (id, summary_html, content_html, cmp_title, cmp_body)
SELECT id, summary_html, content_html, cmp_title, cmp_body FROM items;

ALTER TABLE items ADD COLUMN body_len BIGINT NOT NULL DEFAULT 0;
UPDATE items SET body_len = CAST(COALESCE(OCTET_LENGTH(content_html), OCTET_LENGTH(summary_html), 0) AS BIGINT);

ALTER TABLE items DROP COLUMN summary_html;
ALTER TABLE items DROP COLUMN content_html;
ALTER TABLE items DROP COLUMN cmp_title;
ALTER TABLE items DROP COLUMN cmp_body;
