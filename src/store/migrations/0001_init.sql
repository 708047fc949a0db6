-- Sources, items and the exact-duplicate index. Portable SQL: the same text runs on SQLite and
-- PostgreSQL (times are unix seconds in BIGINT, hashes are BIGINT, lists are JSON in TEXT).
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    fetch_url TEXT,
    etag TEXT,
    last_modified TEXT,
    title TEXT,
    link TEXT,
    last_fetch BIGINT,
    last_status TEXT,
    last_error TEXT,
    last_success BIGINT
);

CREATE TABLE IF NOT EXISTS items (
    id BIGINT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    item_key TEXT NOT NULL,
    guid TEXT,
    url TEXT,
    link TEXT,
    title TEXT,
    summary_html TEXT,
    content_html TEXT,
    authors TEXT NOT NULL,
    categories TEXT NOT NULL,
    enclosures TEXT NOT NULL,
    language TEXT,
    published BIGINT,
    updated BIGINT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    content_hash BIGINT NOT NULL,
    exact_id TEXT NOT NULL,
    story_id TEXT,
    regions TEXT NOT NULL DEFAULT '[]',
    cmp_title TEXT NOT NULL DEFAULT '',
    cmp_body TEXT NOT NULL DEFAULT '',
    cmp_lines BIGINT NOT NULL DEFAULT 0,
    cmp_removed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, item_key)
);

CREATE INDEX IF NOT EXISTS items_story ON items (story_id);
CREATE INDEX IF NOT EXISTS items_exact ON items (exact_id);

-- story_id is NULL while an item waits for the folding pass that follows a fetch (the pass
-- sees every new item at once, so stories do not depend on the order sources answered in).

-- One row per exact key (canonical URL, permalink GUID): the group the first item with that key
-- started. Later items with the same key join that group.
CREATE TABLE IF NOT EXISTS exact_keys (
    key TEXT PRIMARY KEY,
    exact_id TEXT NOT NULL
);

-- The near-duplicate index: MinHash-LSH band keys of every item's comparison text. Items that
-- share a key are candidates for one story. Kept here so every daemon sharing the database sees
-- one index and a restart re-reads nothing.
CREATE TABLE IF NOT EXISTS lsh (
    key BIGINT NOT NULL,
    item_id BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS lsh_key ON lsh (key);
CREATE INDEX IF NOT EXISTS lsh_item ON lsh (item_id);

-- Page furniture learnt per source: how many of a source's items contain each short line.
CREATE TABLE IF NOT EXISTS source_lines (
    source TEXT NOT NULL,
    line_hash BIGINT NOT NULL,
    items BIGINT NOT NULL,
    PRIMARY KEY (source, line_hash)
);
