//! Pruning's rows: the old items retention lets go, deleted with everything stored of them.
//!
//! In: which items to look at (a source and a time: [`Store::first_seen_before`]) and which to
//! delete ([`Expired`]: item ids with the furniture line hashes they were counted under), as
//! decided by [`crate::pipeline::prune`]. Out: ids, bodies ([`BodyRow`]), what a batch deleted
//! ([`Pruned`]), and on SQLite the free pages given back to the file system ([`Store::reclaim`]).
//!
//! Every row of a pruned item goes in one transaction ([`Store::prune`]): its `items` row, its
//! body (`item_bodies`: HTML and comparison text), its band keys (`item_keys`), its pairs with
//! other items (`item_pairs`), the keys of its exact group once no item is left in the group
//! (`exact_keys`), and its count in each furniture line of its source (`source_lines`, a row
//! dropped when no item is left in it). It leaves a tombstone (`item_tombstones`), so a feed
//! that still carries the item does not store it again as new (see `store/ingest.rs`). The
//! other tables hold no item: `sources`, `leases`, `source_changes`, `published` and
//! `store_meta` are one row per source, output or fact. Stories have no table: a story is the
//! items that share a `story_id`, and it is gone with its last copy; the copies left keep theirs.
//!
//! What an output shows does not change (the pipeline never prunes a copy of an entry an output
//! shows), so the change counters are not raised and no output is rendered again for it.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::ingest::{BATCH, placeholder_rows, rows_in};
use super::{Backend, Store, StoreError, query_error};

/// An item to prune: its id, and the furniture line hashes it was counted under in its
/// source's `source_lines` when it was stored (the distinct learnable lines of its body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// The item's id.
    pub id: i64,
    /// The learnable line hashes of its body.
    pub lines: Vec<i64>,
}

/// What one [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Items deleted (an id already gone, or still waiting for the folding pass, is not).
    pub items: usize,
    /// Stories none of whose copies is left.
    pub stories: usize,
}

/// An item's body as stored: what its furniture lines are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRow {
    /// The item's id.
    pub id: i64,
    /// Its sanitised content, else its summary.
    pub html: Option<String>,
}

fn err() -> impl FnOnce(sqlx::Error) -> StoreError {
    query_error("pruning old items")
}

impl Store {
    /// The sources that have stored items.
    pub async fn stored_sources(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT source FROM items ORDER BY source")
            .fetch_all(&self.pool)
            .await
            .map_err(err())
    }

    /// The ids of the items of `source` first stored before `before` (unix seconds) that have a
    /// story (an item waiting for the folding pass is left to it), by id.
    pub async fn first_seen_before(&self, source: &str, before: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT id FROM items WHERE source = $1 AND first_seen < $2 AND story_id IS NOT NULL ORDER BY id",
        )
        .bind(source)
        .bind(before)
        .fetch_all(&self.pool)
        .await
        .map_err(err())
    }

    /// The stored bodies of `ids` (those still stored).
    pub async fn bodies(&self, ids: &[i64]) -> Result<Vec<BodyRow>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(err())?;
        let rows = rows_in(
            &mut conn,
            "SELECT id, COALESCE(content_html, summary_html) AS html FROM item_bodies WHERE id IN",
            ids,
            "",
        )
        .await
        .map_err(err())?;
        rows.iter()
            .map(|row| {
                Ok(BodyRow {
                    id: row.try_get("id")?,
                    html: row.try_get("html")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err())
    }

    /// Deletes `items` with every row stored of them, leaving a tombstone of each, in one
    /// transaction under the write lock and, on PostgreSQL, the folding pass's lock (see the
    /// module documentation). Items already gone, or waiting for the folding pass, are left.
    pub async fn prune(&self, items: &[Expired]) -> Result<Pruned, StoreError> {
        let (_guard, mut tx) = self.begin_folding().await.map_err(err())?;
        let pruned = delete(&mut tx, items).await.map_err(err())?;
        tx.commit().await.map_err(err())?;
        Ok(pruned)
    }

    /// On SQLite, gives up to `pages` free pages back to the file system (`PRAGMA
    /// incremental_vacuum`) under the write lock, and returns how many free pages are left; on
    /// PostgreSQL does nothing and returns 0 (its autovacuum reuses the space of deleted rows).
    pub async fn reclaim(&self, pages: i64) -> Result<i64, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let _guard = self.write_guard().await;
        let mut conn = self.writes.acquire().await.map_err(err())?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA incremental_vacuum({})",
            pages.max(1)
        )))
        .execute(&mut *conn)
        .await
        .map_err(err())?;
        sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&mut *conn)
            .await
            .map_err(err())
    }
}

/// One stored item about to be pruned.
struct Doomed {
    source: String,
    exact: String,
    story: String,
}

/// The deletes of [`Store::prune`], in the caller's transaction.
async fn delete(tx: &mut AnyConnection, items: &[Expired]) -> Result<Pruned, sqlx::Error> {
    let ids: Vec<i64> = items.iter().map(|e| e.id).collect();
    let mut doomed: HashMap<i64, Doomed> = HashMap::with_capacity(ids.len());
    for row in rows_in(
        tx,
        "SELECT id, source, exact_id, story_id FROM items WHERE id IN",
        &ids,
        " AND story_id IS NOT NULL",
    )
    .await?
    {
        doomed.insert(
            row.try_get("id")?,
            Doomed {
                source: row.try_get("source")?,
                exact: row.try_get("exact_id")?,
                story: row.try_get("story_id")?,
            },
        );
    }
    if doomed.is_empty() {
        return Ok(Pruned::default());
    }
    let mut ids: Vec<i64> = doomed.keys().copied().collect();
    ids.sort_unstable();

    let mut tombstones: Vec<(i64, &str)> = ids.iter().map(|id| (*id, doomed[id].source.as_str())).collect();
    tombstones.sort_unstable();
    for chunk in tombstones.chunks(BATCH / 2) {
        let sql = format!(
            "INSERT INTO item_tombstones (id, source) VALUES {} ON CONFLICT (id) DO NOTHING",
            placeholder_rows(tx, chunk.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, source) in chunk {
            query = query.bind(*id).bind(*source);
        }
        query.execute(&mut *tx).await?;
    }
    for chunk in ids.chunks(BATCH / 2) {
        let list = super::ingest::placeholder_list(chunk.len(), 1);
        let sql = format!("DELETE FROM item_pairs WHERE a IN ({list}) OR b IN ({list})");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *tx).await?;
    }
    rows_in(tx, "DELETE FROM item_keys WHERE item_id IN", &ids, "").await?;
    rows_in(tx, "DELETE FROM item_bodies WHERE id IN", &ids, "").await?;
    rows_in(tx, "DELETE FROM item_pages WHERE item_id IN", &ids, "").await?;
    rows_in(tx, "DELETE FROM items WHERE id IN", &ids, "").await?;

    // Exact groups with no item left: their keys go, so a new item with one of them starts a
    // group of its own rather than joining one nothing is in.
    let mut exact: Vec<&str> = doomed.values().map(|d| d.exact.as_str()).collect();
    exact.sort_unstable();
    exact.dedup();
    rows_in(
        tx,
        "DELETE FROM exact_keys WHERE exact_id IN",
        &exact,
        " AND NOT EXISTS (SELECT 1 FROM items WHERE items.exact_id = exact_keys.exact_id)",
    )
    .await?;

    // Each pruned item no longer counts in its source's furniture lines.
    let mut counts: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for e in items.iter().filter(|e| doomed.contains_key(&e.id)) {
        let source = doomed[&e.id].source.as_str();
        let distinct: HashSet<i64> = e.lines.iter().copied().collect();
        for hash in distinct {
            *counts.entry((source, hash)).or_default() += 1;
        }
    }
    let counts: Vec<(&str, i64, i64)> = counts.into_iter().map(|((s, h), n)| (s, h, n)).collect();
    for chunk in counts.chunks(BATCH / 3) {
        let sql = format!(
            "WITH v (source, line_hash, n) AS (VALUES {}) \
             UPDATE source_lines SET items = source_lines.items - v.n FROM v \
             WHERE source_lines.source = v.source AND source_lines.line_hash = v.line_hash",
            placeholder_rows(tx, chunk.len(), 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (source, hash, n) in chunk {
            query = query.bind(*source).bind(*hash).bind(*n);
        }
        query.execute(&mut *tx).await?;
    }
    let mut sources: Vec<&str> = doomed.values().map(|d| d.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    rows_in(
        tx,
        "DELETE FROM source_lines WHERE source IN",
        &sources,
        " AND items <= 0",
    )
    .await?;

    // Stories with no copy left.
    let mut stories: Vec<&str> = doomed.values().map(|d| d.story.as_str()).collect();
    stories.sort_unstable();
    stories.dedup();
    let left: HashSet<String> = rows_in(
        tx,
        "SELECT DISTINCT story_id FROM items WHERE story_id IN",
        &stories,
        "",
    )
    .await?
    .iter()
    .map(|row| row.try_get("story_id"))
    .collect::<Result<_, _>>()?;
    Ok(Pruned {
        items: ids.len(),
        stories: stories.iter().filter(|s| !left.contains(**s)).count(),
    })
}
