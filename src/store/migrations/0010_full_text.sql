-- Full text: what became of each item's page (its link fetched for the article). Portable SQL,
-- as in 0001; times are unix seconds. (0009 is another branch's.)
--
-- A page read once is kept here with the article found on it, so a feed that lists the item
-- again is read with that article and the page is not fetched again; when the feed changes the
-- item, the page is asked for with its validators (a 304 keeps the article). A page that failed
-- is tried again at `next_try`, each failure in a row waiting longer.
CREATE TABLE IF NOT EXISTS item_pages (
    item_id BIGINT PRIMARY KEY,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    -- `ok` (the article is kept) or `failed` (the item keeps its feed text until a retry works).
    status TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    -- Failures in a row (0 once it worked).
    failures BIGINT NOT NULL DEFAULT 0,
    next_try BIGINT,
    fetched_at BIGINT NOT NULL,
    -- The article's HTML, as extracted (sanitised when the item is stored, as a feed's text is).
    article TEXT,
    error TEXT
);

CREATE INDEX IF NOT EXISTS item_pages_source ON item_pages (source, status, next_try);
