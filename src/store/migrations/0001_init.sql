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
    story_id TEXT NOT NULL,
    regions TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (source, item_key)
);

CREATE INDEX IF NOT EXISTS items_story ON items (story_id);
CREATE INDEX IF NOT EXISTS items_exact ON items (exact_id);

-- One row per exact key (canonical URL, permalink GUID): the group the first item with that key
-- started. Later items with the same key join that group.
CREATE TABLE IF NOT EXISTS exact_keys (
    key TEXT PRIMARY KEY,
    exact_id TEXT NOT NULL
);
