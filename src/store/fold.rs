//! The folding pass's rows: what [`crate::pipeline::fold`] reads and writes, in one transaction.
//!
//! In: calls of a [`FoldTx`] (from [`Store::begin_fold`]), each one SQL job over plain values
//! (item ids, times, story ids, band keys, [`Pair`]s, [`Regions`]). Out: rows as read
//! ([`WaitingRow`], [`TextRow`], [`MemberRow`], [`CopyRow`], [`Pair`]s, band keys), and the
//! writes of a pass: `item_pairs`, `item_keys`, `items.story_id` and `items.regions`, the change
//! counters of `source_changes`, committed together by [`FoldTx::commit`].
//!
//! What the rows mean, and which stories they make, is the pipeline's business; the store only
//! keeps the pass to one transaction, one pass at a time (the store's write lock, and on
//! PostgreSQL the advisory lock [`FOLD_LOCK`]). Every failure is a "folding stories" query error.
//!
//! The tables the pass uses: `item_keys` (an item's band keys, packed by [`pack_keys`], with the
//! time it is compared by; an item has keys exactly when it has a story) and `item_pairs` (pairs
//! judged one story, or tied by one exact group, the lower id first; a conflict is kept when a
//! pair judged before is judged again).

use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::ingest::{BATCH, placeholder_list, placeholder_rows, rows_in};
use super::{ITEMS_WITH_BODIES, Store, StoreError, query_error};
use crate::model::Regions;

/// The PostgreSQL advisory lock a folding pass holds for its transaction ("fold" in ASCII), so
/// passes of processes sharing a database run one at a time. Anything that must not run beside a
/// folding pass can take it too.
pub const FOLD_LOCK: i64 = 0x666f_6c64;

/// What an item's comparison is read from, from [`ITEMS_WITH_BODIES`] (see [`TextRow`]).
pub(super) const TEXT_COLUMNS: &str = "i.id AS id, i.story_id AS story_id, i.exact_id AS exact_id, \
     b.cmp_title AS cmp_title, b.cmp_body AS cmp_body, i.published AS published, i.updated AS updated, \
     i.first_seen AS first_seen";

/// Packs band keys for `item_keys.band_keys`: 8 little-endian bytes each.
pub(super) fn pack_keys(keys: &[i64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

/// The band keys packed by [`pack_keys`].
pub(super) fn unpack_keys(bytes: &[u8]) -> impl Iterator<Item = i64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// An item waiting for a story, as the pass first reads it (no comparison text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRow {
    /// The item's id.
    pub id: i64,
    /// Its story: None (it waits).
    pub story: Option<String>,
    /// Its exact group (canonical URL or permalink GUID).
    pub exact: String,
    /// When it was published (unix seconds), if it says.
    pub published: Option<i64>,
    /// When it was last updated (unix seconds), if it says.
    pub updated: Option<i64>,
    /// When the store first saw it (unix seconds).
    pub first_seen: i64,
    /// The content hash it was stored with.
    pub content_hash: i64,
}

/// An item's comparison text and what it is compared by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow {
    /// The item's id.
    pub id: i64,
    /// Its story: None while the item waits for the folding pass.
    pub story: Option<String>,
    /// Its exact group (canonical URL or permalink GUID).
    pub exact: String,
    /// Comparison title.
    pub title: String,
    /// Comparison body.
    pub body: String,
    /// When it was published (unix seconds), if it says.
    pub published: Option<i64>,
    /// When it was last updated (unix seconds), if it says.
    pub updated: Option<i64>,
    /// When the store first saw it (unix seconds).
    pub first_seen: i64,
}

impl TextRow {
    /// Reads the [`TEXT_COLUMNS`].
    pub(super) fn read(row: &sqlx::any::AnyRow) -> Result<TextRow, sqlx::Error> {
        Ok(TextRow {
            id: row.try_get("id")?,
            story: row.try_get("story_id")?,
            exact: row.try_get("exact_id")?,
            title: row.try_get("cmp_title")?,
            body: row.try_get("cmp_body")?,
            published: row.try_get("published")?,
            updated: row.try_get("updated")?,
            first_seen: row.try_get("first_seen")?,
        })
    }
}

/// A stored item as assigning stories sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The item's id.
    pub id: i64,
    /// Its story now (None while it waits).
    pub story: Option<String>,
    /// Its exact group (canonical URL or permalink GUID).
    pub exact: String,
    /// When the store first saw it (unix seconds).
    pub first_seen: i64,
}

/// One copy of a story, for its regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRow {
    /// The item's id.
    pub id: i64,
    /// Its source.
    pub source: String,
    /// When the store first saw it (unix seconds).
    pub first_seen: i64,
    /// Comparison title.
    pub title: String,
    /// Comparison body.
    pub body: String,
}

/// What two items were found to be, as kept in `item_pairs.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairKind {
    /// Together whatever else is known: the same exact group (canonical URL or permalink
    /// GUID), or one story in a store from before pairs were kept.
    Link,
    /// One story, with a similarity score.
    Same,
    /// Facts disagree: never in one story.
    Conflict,
}

impl PairKind {
    fn code(self) -> i64 {
        match self {
            PairKind::Link => 0,
            PairKind::Same => 1,
            PairKind::Conflict => 2,
        }
    }

    fn from_code(code: i64) -> PairKind {
        match code {
            0 => PairKind::Link,
            1 => PairKind::Same,
            _ => PairKind::Conflict,
        }
    }
}

/// A pair of items as kept in `item_pairs`, the lower id first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// The lower item id.
    pub a: i64,
    /// The higher item id.
    pub b: i64,
    /// What the two were found to be.
    pub kind: PairKind,
    /// Their similarity (1 for a link).
    pub score: f64,
}

impl Pair {
    /// The pair of `x` and `y`, whichever is lower first.
    pub fn new(x: i64, y: i64, kind: PairKind, score: f64) -> Pair {
        Pair {
            a: x.min(y),
            b: x.max(y),
            kind,
            score,
        }
    }

    /// Whether it ties its items into one component (a conflict does not).
    pub fn ties(&self) -> bool {
        self.kind != PairKind::Conflict
    }
}

/// Writes (or replaces) the band keys of items: `(item id, compared at, keys)`.
pub(super) async fn write_keys(
    conn: &mut AnyConnection,
    rows: &[(i64, i64, Vec<u8>)],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH / 2) {
        let sql = format!(
            "INSERT INTO item_keys (item_id, compared_at, band_keys) VALUES {} ON CONFLICT (item_id) DO UPDATE \
             SET compared_at = excluded.compared_at, band_keys = excluded.band_keys",
            placeholder_rows(conn, chunk.len(), 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, at, keys) in chunk {
            query = query.bind(*id).bind(*at).bind(keys.as_slice());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A folding pass's transaction: every read and write of one pass, committed together by
/// [`FoldTx::commit`] (dropped uncommitted, nothing of it is kept). Holds the store's write
/// lock, and on PostgreSQL [`FOLD_LOCK`], until it ends.
pub struct FoldTx<'s> {
    tx: Transaction<'static, Any>,
    /// Released after the transaction ends (fields drop in order).
    _guard: Option<tokio::sync::MutexGuard<'s, ()>>,
}

fn err() -> impl FnOnce(sqlx::Error) -> StoreError {
    query_error("folding stories")
}

impl Store {
    /// Starts a folding pass: takes the write lock, begins the transaction and, on PostgreSQL,
    /// waits for [`FOLD_LOCK`].
    pub async fn begin_fold(&self) -> Result<FoldTx<'_>, StoreError> {
        let (guard, tx) = self.begin_folding().await.map_err(err())?;
        Ok(FoldTx { tx, _guard: guard })
    }

    /// The write lock and a transaction that holds, on PostgreSQL, [`FOLD_LOCK`]: one pass at a
    /// time across every process sharing the database, since a pass reads the stories the
    /// previous one committed, so copies of one story folded by two daemons at once still make
    /// one story. (SQLite writes one transaction at a time anyway.) Pruning takes it too, so it
    /// never deletes an item a pass is working on.
    pub(super) async fn begin_folding(
        &self,
    ) -> Result<(Option<tokio::sync::MutexGuard<'_, ()>>, Transaction<'static, Any>), sqlx::Error> {
        let guard = self.write_guard().await;
        let mut tx = self.writes.begin().await?;
        if self.backend == super::Backend::Postgres {
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS fold_lock")
                .bind(FOLD_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        Ok((guard, tx))
    }
}

impl FoldTx<'_> {
    /// The items waiting for a story, NULL publication times first (on SQLite and PostgreSQL
    /// alike: their defaults differ), then by publication time and id. An item whose body row
    /// is gone is not listed.
    pub async fn waiting(&mut self) -> Result<Vec<WaitingRow>, StoreError> {
        let sql = format!(
            "SELECT i.id AS id, i.story_id AS story_id, i.exact_id AS exact_id, i.published AS published, \
             i.updated AS updated, i.first_seen AS first_seen, i.content_hash AS content_hash \
             FROM {ITEMS_WITH_BODIES} WHERE i.story_id IS NULL \
             ORDER BY CASE WHEN i.published IS NULL THEN 0 ELSE 1 END, i.published, i.id"
        );
        let mut out = Vec::new();
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *self.tx);
        while let Some(row) = rows.try_next().await.map_err(err())? {
            let read = || -> Result<WaitingRow, sqlx::Error> {
                Ok(WaitingRow {
                    id: row.try_get("id")?,
                    story: row.try_get("story_id")?,
                    exact: row.try_get("exact_id")?,
                    published: row.try_get("published")?,
                    updated: row.try_get("updated")?,
                    first_seen: row.try_get("first_seen")?,
                    content_hash: row.try_get("content_hash")?,
                })
            };
            out.push(read().map_err(err())?);
        }
        Ok(out)
    }

    /// Hands `each` the [`TextRow`] of each of `ids` that has one, one row at a time ([`BATCH`]
    /// ids per statement): a row's text need not outlive what is worked out from it.
    pub async fn each_text(&mut self, ids: &[i64], mut each: impl FnMut(TextRow)) -> Result<(), StoreError> {
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT {TEXT_COLUMNS} FROM {ITEMS_WITH_BODIES} WHERE i.id IN ({})",
                placeholder_list(chunk.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            let mut rows = query.fetch(&mut *self.tx);
            while let Some(row) = rows.try_next().await.map_err(err())? {
                each(TextRow::read(&row).map_err(err())?);
            }
        }
        Ok(())
    }

    /// The [`TextRow`]s of `ids` (those that have one).
    pub async fn texts(&mut self, ids: &[i64]) -> Result<Vec<TextRow>, StoreError> {
        let rows = rows_in(
            &mut self.tx,
            &format!("SELECT {TEXT_COLUMNS} FROM {ITEMS_WITH_BODIES} WHERE i.id IN"),
            ids,
            "",
        )
        .await
        .map_err(err())?;
        rows.into_iter()
            .map(|row| TextRow::read(&row))
            .collect::<Result<_, _>>()
            .map_err(err())
    }

    /// Hands `each` the id and band keys of every stored item compared between `from` and `to`
    /// (unix seconds, inclusive) that has keys and a row in `items`.
    pub async fn each_stored_keys(
        &mut self,
        from: i64,
        to: i64,
        mut each: impl FnMut(i64, &[i64]),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query(
            "SELECT k.item_id, k.band_keys FROM item_keys k JOIN items i ON i.id = k.item_id \
             WHERE k.compared_at >= $1 AND k.compared_at <= $2 AND k.band_keys IS NOT NULL",
        )
        .bind(from)
        .bind(to)
        .fetch(&mut *self.tx);
        let mut keys: Vec<i64> = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(err())? {
            let bytes: Vec<u8> = row.try_get("band_keys").map_err(err())?;
            keys.clear();
            keys.extend(unpack_keys(&bytes));
            each(row.try_get("item_id").map_err(err())?, &keys);
        }
        Ok(())
    }

    /// The lowest id of a stored item with a story in each of the exact groups `exact_ids`:
    /// `(exact group, item id)`.
    pub async fn first_in_exact_groups(
        &mut self,
        exact_ids: &[&str],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = rows_in(
            &mut self.tx,
            "SELECT exact_id, MIN(id) AS id FROM items WHERE exact_id IN",
            exact_ids,
            " AND story_id IS NOT NULL GROUP BY exact_id",
        )
        .await
        .map_err(err())?;
        rows.iter()
            .map(|row| Ok((row.try_get("exact_id")?, row.try_get("id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err())
    }

    /// Stores pairs (a pair stored before keeps the latest kind and score).
    pub async fn write_pairs(&mut self, pairs: &[Pair]) -> Result<(), StoreError> {
        for chunk in pairs.chunks(BATCH / 4) {
            let sql = format!(
                "INSERT INTO item_pairs (a, b, kind, score) VALUES {} ON CONFLICT (a, b) DO UPDATE \
                 SET kind = excluded.kind, score = excluded.score",
                placeholder_rows(&self.tx, chunk.len(), 4)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                query = query.bind(p.a).bind(p.b).bind(p.kind.code()).bind(p.score);
            }
            query.execute(&mut *self.tx).await.map_err(err())?;
        }
        Ok(())
    }

    /// The stored pairs with either item in `ids` ([`BATCH`]` / 2` ids per statement).
    pub async fn pairs_of(&mut self, ids: &[i64]) -> Result<Vec<Pair>, StoreError> {
        let mut pairs = Vec::new();
        for chunk in ids.chunks(BATCH / 2) {
            let sql = format!(
                "SELECT a, b, kind, score FROM item_pairs WHERE a IN ({list}) OR b IN ({list})",
                list = placeholder_list(chunk.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *self.tx).await.map_err(err())? {
                let read = || -> Result<Pair, sqlx::Error> {
                    Ok(Pair::new(
                        row.try_get("a")?,
                        row.try_get("b")?,
                        PairKind::from_code(row.try_get("kind")?),
                        row.try_get("score")?,
                    ))
                };
                pairs.push(read().map_err(err())?);
            }
        }
        Ok(pairs)
    }

    /// The [`MemberRow`]s of the stored items among `ids`, by id.
    pub async fn members(&mut self, ids: &[i64]) -> Result<HashMap<i64, MemberRow>, StoreError> {
        let mut members = HashMap::with_capacity(ids.len());
        let rows = rows_in(
            &mut self.tx,
            "SELECT id, story_id, exact_id, first_seen FROM items WHERE id IN",
            ids,
            "",
        )
        .await
        .map_err(err())?;
        for row in rows {
            let read = || -> Result<MemberRow, sqlx::Error> {
                Ok(MemberRow {
                    id: row.try_get("id")?,
                    story: row.try_get("story_id")?,
                    exact: row.try_get("exact_id")?,
                    first_seen: row.try_get("first_seen")?,
                })
            };
            let m = read().map_err(err())?;
            members.insert(m.id, m);
        }
        Ok(members)
    }

    /// Which of `stories` some stored item has as its story.
    pub async fn stories_in_use(&mut self, stories: &[&str]) -> Result<Vec<String>, StoreError> {
        let rows = rows_in(
            &mut self.tx,
            "SELECT DISTINCT story_id FROM items WHERE story_id IN",
            stories,
            "",
        )
        .await
        .map_err(err())?;
        rows.iter()
            .map(|row| row.try_get("story_id"))
            .collect::<Result<_, _>>()
            .map_err(err())
    }

    /// Writes (or replaces) the band keys of items: `(item id, compared at, keys)`.
    pub async fn write_keys(&mut self, items: &[(i64, i64, &[i64])]) -> Result<(), StoreError> {
        let rows: Vec<(i64, i64, Vec<u8>)> = items
            .iter()
            .map(|(id, at, keys)| (*id, *at, pack_keys(keys)))
            .collect();
        write_keys(&mut self.tx, &rows).await.map_err(err())
    }

    /// The items whose band keys are to be rebuilt from their stored comparison text: those
    /// whose `item_keys` row has no keys (a store from before `item_keys` kept its own keys, or
    /// one whose keys were dropped because the way keys are made changed). Migration 0003 says
    /// the store rebuilds them when it opens: that was so until the folding pass took it over.
    pub async fn stale_keys(&mut self) -> Result<Vec<TextRow>, StoreError> {
        let sql = format!(
            "SELECT {TEXT_COLUMNS} FROM {ITEMS_WITH_BODIES} WHERE i.id IN (SELECT item_id FROM item_keys WHERE band_keys IS NULL)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(err())?;
        rows.iter()
            .map(TextRow::read)
            .collect::<Result<_, _>>()
            .map_err(err())
    }

    /// Drops the `item_keys` rows left without keys once [`FoldTx::stale_keys`] were rebuilt:
    /// those whose item is gone, which have nothing to rebuild from.
    pub async fn drop_stale_keys(&mut self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM item_keys WHERE band_keys IS NULL")
            .execute(&mut *self.tx)
            .await
            .map_err(err())?;
        Ok(())
    }

    /// The [`CopyRow`]s of `ids` (those that have one).
    pub async fn copies(&mut self, ids: &[i64]) -> Result<Vec<CopyRow>, StoreError> {
        let rows = rows_in(
            &mut self.tx,
            &format!(
                "SELECT i.id AS id, i.source AS source, i.first_seen AS first_seen, \
                 b.cmp_title AS cmp_title, b.cmp_body AS cmp_body FROM {ITEMS_WITH_BODIES} WHERE i.id IN"
            ),
            ids,
            "",
        )
        .await
        .map_err(err())?;
        // Each row is dropped once read: the rows and the copies are never all held at once.
        let mut copies = Vec::with_capacity(rows.len());
        for row in rows {
            let read = || -> Result<CopyRow, sqlx::Error> {
                Ok(CopyRow {
                    id: row.try_get("id")?,
                    source: row.try_get("source")?,
                    first_seen: row.try_get("first_seen")?,
                    title: row.try_get("cmp_title")?,
                    body: row.try_get("cmp_body")?,
                })
            };
            copies.push(read().map_err(err())?);
        }
        Ok(copies)
    }

    /// Stores the story of each of `copies` (item id, story) and the story's regions (none
    /// when `regions` has no entry for it), many items per statement.
    pub async fn set_stories(
        &mut self,
        copies: &[(i64, &str)],
        regions: &HashMap<String, Regions>,
    ) -> Result<(), StoreError> {
        let empty = Regions::default();
        for chunk in copies.chunks(BATCH) {
            let sql = format!(
                "WITH v (id, story, regions) AS (VALUES {}) \
                 UPDATE items SET story_id = v.story, regions = v.regions FROM v WHERE items.id = v.id",
                placeholder_rows(&self.tx, chunk.len(), 3)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, story) in chunk {
                query = query
                    .bind(*id)
                    .bind(*story)
                    .bind(regions.get(*story).unwrap_or(&empty).to_column());
            }
            query.execute(&mut *self.tx).await.map_err(err())?;
        }
        Ok(())
    }

    /// Raises the change counters of `sources` (see [`Store::source_generations`]).
    pub async fn bump_generations(&mut self, sources: &[&str]) -> Result<(), StoreError> {
        super::bump_generations(&mut self.tx, sources)
            .await
            .map_err(err())
    }

    /// Commits the pass.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use crate::pipeline::fold::fold_pending;
    use crate::pipeline::fold::tests::{item, render, sqlite_url, store_with_a1};
    use crate::pipeline::ingest::ReadyMap;
    use crate::transform::fold::FoldConfig;

    async fn keys(store: &Store) -> Vec<(i64, i64, Option<Vec<u8>>)> {
        let rows = sqlx::query("SELECT item_id, compared_at, band_keys FROM item_keys ORDER BY item_id")
            .fetch_all(&store.pool)
            .await
            .expect("keys");
        rows.iter()
            .map(|r| {
                (
                    r.try_get("item_id").expect("id"),
                    r.try_get("compared_at").expect("at"),
                    r.try_get("band_keys").expect("keys"),
                )
            })
            .collect()
    }

    /// A store from before `item_keys` (its rows copied from `lsh` without keys) gets its keys
    /// back from the comparison text in the first folding pass after it is opened (opening
    /// leaves them: the store does not make keys), and its stories still take new copies.
    #[tokio::test]
    async fn keys_are_rebuilt_and_stored_stories_still_fold() {
        let dir = tempfile::tempdir().expect("dir");
        let url = sqlite_url(&dir);
        let (store, now) = store_with_a1(&dir).await;
        let cfg = FoldConfig::default();
        crate::pipeline::ingest::items(
            &store,
            &ReadyMap::default(),
            "b",
            &[item("b1", "陕西：抓好疫情防控", 1)],
            now,
            std::sync::Arc::new(render),
        )
        .await
        .expect("ingest");
        let report = fold_pending(&store, &cfg, &HashMap::new(), &ReadyMap::default())
            .await
            .expect("fold");
        assert_eq!((report.items, report.stories), (2, 1));
        let written = keys(&store).await;
        assert_eq!(written.len(), 2);
        assert!(
            written
                .iter()
                .all(|(_, _, k)| k.as_ref().is_some_and(|k| k.len() == 48 * 8))
        );
        sqlx::query("UPDATE item_keys SET band_keys = NULL")
            .execute(&store.pool)
            .await
            .expect("forget keys");
        store.close().await;

        let store = Store::open(&url).await.expect("reopen");
        assert!(
            keys(&store).await.iter().all(|(_, _, k)| k.is_none()),
            "opening makes no keys"
        );
        crate::pipeline::ingest::items(
            &store,
            &ReadyMap::default(),
            "c",
            &[item("c1", "西安疫情防控会议", 2)],
            now,
            std::sync::Arc::new(render),
        )
        .await
        .expect("ingest");
        let report = fold_pending(&store, &cfg, &HashMap::new(), &ReadyMap::default())
            .await
            .expect("fold");
        assert_eq!((report.items, report.joined, report.stories), (1, 1, 0));
        let rebuilt = keys(&store).await;
        assert_eq!(rebuilt.len(), 3);
        for row in &written {
            assert!(rebuilt.contains(row), "the pass rebuilt the keys it had written");
        }
        let stories: HashSet<String> = store
            .all_items()
            .await
            .expect("items")
            .into_iter()
            .map(|i| i.story_id)
            .collect();
        assert_eq!(stories.len(), 1);
        store.close().await;
    }
}
