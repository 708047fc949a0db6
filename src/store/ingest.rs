//! Storing a fetch's items, in one transaction per fetch: rows in, SQL out.
//!
//! In: a [`Batch`] of plain rows worked out by [`crate::pipeline::ingest`] against a [`Snapshot`]
//! (each new or changed item with its sanitised HTML, comparison columns, exact keys and line
//! hashes), and the [`Rework`] that worked them out. Out: rows in `items` and `item_bodies`,
//! band keys in `item_keys` (for changed items that have a story), line counts in
//! `source_lines`, exact groups in `exact_keys`, and [`Written`]: the counts of new / updated /
//! unchanged items and the ids of the items written.
//!
//! A new item is stored with its exact group (items with the same canonical URL or permalink
//! GUID) and its comparison text, and waits for the folding pass ([`crate::pipeline::fold`]),
//! which indexes its band keys and gives it its story. A changed item is updated in place and
//! keeps its story (and, if it has one, its band keys are replaced).
//!
//! An item retention pruned ([`crate::pipeline::prune`]) left a tombstone: while the feed still
//! carries it, it is neither new nor changed (it counts as unchanged) and is not stored again.
//! Each write drops the tombstones of the source's items its feed no longer carries, so a
//! source has no more tombstones than its feed has items.
//!
//! Under the write lock the store reads again what the rows depend on: the stored hashes of the
//! fetch's keys and, after counting the new items' lines, the source's furniture. Where either
//! differs from the snapshot (another writer stored some of the source's items meanwhile), the
//! store asks the batch's [`Rework`] for the rows or comparison columns again: a computation on
//! data only known under the lock, which the store does not do itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use super::{IngestCounts, Rendered, Store, StoreError, new_group_id, query_error, to_json, ts};
use crate::model::Item;

/// Rows written or looked up per statement (well under SQLite's and PostgreSQL's limits on
/// bound parameters).
pub(super) const BATCH: usize = 200;

/// `($1, $2, …), (…)`: `rows` groups of `width` placeholders, for a statement whose only
/// parameters they are, each used once in order. On SQLite they are anonymous (`?`): SQLite
/// looks a numbered parameter's name up in a list of the statement's parameters each time one is
/// bound, so binding numbered ones takes time growing with the square of their count (a third
/// of the writer's time in benchmark (iv) went there), and anonymous ones are not listed.
pub(super) fn placeholder_rows(conn: &AnyConnection, rows: usize, width: usize) -> String {
    let anonymous = conn.backend_name() == "SQLite";
    let mut out = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            let sep = if c == 0 { "" } else { ", " };
            if anonymous {
                let _ = write!(out, "{sep}?");
            } else {
                let _ = write!(out, "{sep}${}", 1 + r * width + c);
            }
        }
        out.push(')');
    }
    out
}

/// `$first, …, $(first+n-1)`: a list of `n` placeholders for `IN (…)`.
pub(super) fn placeholder_list(n: usize, first: usize) -> String {
    let mut out = String::with_capacity(n * 5);
    for i in 0..n {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(out, "{sep}${}", first + i);
    }
    out
}

/// Runs `before (…) after` once per [`BATCH`] of `values`, the list holding their placeholders
/// (numbered from `$1`), and returns every row: an `IN (…)` lookup over any number of values.
pub(super) async fn rows_in<'v, T>(
    conn: &mut AnyConnection,
    before: &str,
    values: &'v [T],
    after: &str,
) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error>
where
    T: sqlx::Encode<'v, Any> + sqlx::Type<Any> + Clone + Send + 'v,
{
    let mut rows = Vec::new();
    for chunk in values.chunks(BATCH) {
        let sql = format!("{before} ({}){after}", placeholder_list(chunk.len(), 1));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in chunk {
            query = query.bind(value.clone());
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// What the store holds of a fetch's items, read before the write lock is taken.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Content hash of each stored key, and whether the item still waits for the folding pass.
    pub stored: HashMap<String, (i64, bool)>,
    /// The keys among them that retention pruned (their tombstones): not stored again.
    pub pruned: HashSet<String>,
    /// The source's furniture: `(line hash, items)` of the lines stored in at least the number
    /// of items asked for.
    pub furniture: Vec<(i64, i64)>,
}

/// Which of a fetch's items are new, changed or unchanged against a [`Snapshot`], as positions
/// in [`Batch::items`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sorted {
    /// Items whose key is not stored.
    pub new: Vec<usize>,
    /// Items whose key is stored with another content hash.
    pub changed: Vec<usize>,
    /// How many items are stored with the same content hash, or were pruned (not stored again).
    pub unchanged: usize,
}

impl Sorted {
    /// `items` (with their content hashes `hashes`) sorted against `stored`, with the keys in
    /// `pruned` (retention's tombstones) left out as unchanged.
    pub fn of(
        items: &[Item],
        hashes: &[i64],
        stored: &HashMap<String, (i64, bool)>,
        pruned: &HashSet<String>,
    ) -> Sorted {
        let mut sorted = Sorted::default();
        for (i, (item, hash)) in items.iter().zip(hashes).enumerate() {
            match stored.get(item.key.as_str()).map(|(h, _)| *h) {
                Some(h) if h == *hash => sorted.unchanged += 1,
                Some(_) => sorted.changed.push(i),
                None if pruned.contains(item.key.as_str()) => sorted.unchanged += 1,
                None => sorted.new.push(i),
            }
        }
        sorted
    }
}

/// The comparison columns of a new or changed item, under the furniture they were computed with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compared {
    /// Folded title (`item_bodies.cmp_title`).
    pub title: String,
    /// Folded body (`item_bodies.cmp_body`).
    pub body: String,
    /// Text lines of the body (`items.cmp_lines`).
    pub lines: i64,
    /// Of those, lines removed as furniture or boilerplate (`items.cmp_removed`).
    pub removed: i64,
    /// Band keys, for an item that already has a story (its `item_keys` row is replaced); None
    /// for one that waits for the folding pass, which indexes it.
    pub band_keys: Option<Vec<i64>>,
}

/// What a new or changed item's rows hold beside the item itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemRow {
    /// Its id (a hash of its source and key, the same on every daemon).
    pub id: i64,
    /// Its content hash.
    pub hash: i64,
    /// Its sanitised HTML.
    pub rendered: Rendered,
    /// Its body's text lines, which its comparison text is computed from (not stored).
    pub lines: Vec<String>,
    /// The distinct hashes of its lines that count toward the source's furniture.
    pub learnable: Vec<i64>,
    /// Its exact keys (canonical URL, permalink GUID): items sharing one share an exact group.
    pub exact_keys: Vec<String>,
    /// Its comparison columns; None until it is compared.
    pub compared: Option<Compared>,
}

/// A fetch's items as the store writes them: rows worked out against a [`Snapshot`] before the
/// write lock is taken (by [`crate::pipeline::ingest`], on the task that fetched them). It owns
/// everything, so it can be built on another thread; [`Store::write`] stores it.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The source whose items these are.
    pub source: String,
    /// When they were fetched (unix seconds).
    pub seen: i64,
    /// The last copy of each key, in the order the feed first lists it.
    pub items: Vec<Item>,
    /// The content hash of each of `items`.
    pub hashes: Vec<i64>,
    /// What was stored when the rows were worked out.
    pub snapshot: Snapshot,
    /// `items` sorted against `snapshot`.
    pub sorted: Sorted,
    /// The rows of the new and changed items, by position in `items`.
    pub rows: HashMap<usize, ItemRow>,
    /// The furniture line hashes the comparison columns were computed with.
    pub furniture: HashSet<i64>,
    /// A line in this many of a source's items is furniture.
    pub furniture_min: i64,
    /// What became of the pages of its items fetched for full text, recorded with them.
    pub pages: Vec<super::PageRow>,
}

impl Batch {
    /// The source whose items these are.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The work a write does again under the write lock, where what is stored changed since the
/// [`Batch`]'s snapshot: done by whoever worked the batch out ([`crate::pipeline::ingest`]),
/// which the store only calls.
pub trait Rework: Send + Sync {
    /// The row of `items[i]` of the batch, an item that was unchanged when the batch was worked
    /// out and is new or changed now.
    fn row(&self, item: &Item, hash: i64) -> ItemRow;

    /// The comparison columns of `item` (its row `row`) under the source's furniture `furniture`
    /// (line hashes), with its band keys when `keys`.
    fn compare(&self, item: &Item, row: &ItemRow, furniture: &HashSet<i64>, keys: bool) -> Compared;
}

/// What a write stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// How the fetch's items were stored.
    pub counts: IngestCounts,
    /// The ids of the items written (new, then changed), as [`ItemRow::id`].
    pub ids: Vec<i64>,
}

/// A new or changed item and its row, as the write steps take them.
struct Prepared<'a> {
    item: &'a Item,
    row: &'a ItemRow,
    compared: &'a Compared,
}

impl Prepared<'_> {
    /// Binds the `items` columns a new or changed copy writes, in this order: guid, url, link,
    /// title, authors, categories, enclosures, language, extras, published, updated, last_seen,
    /// content_hash, cmp_lines, cmp_removed, body_len.
    fn bind<'q>(&'q self, query: Query<'q, Any, AnyArguments>, seen: i64) -> Query<'q, Any, AnyArguments> {
        let (item, row) = (self.item, self.row);
        let body = row
            .rendered
            .content_html
            .as_ref()
            .or(row.rendered.summary_html.as_ref());
        query
            .bind(item.guid.as_deref())
            .bind(item.url.as_deref())
            .bind(item.link.as_deref())
            .bind(item.title.as_deref())
            .bind(to_json(&item.authors))
            .bind(to_json(&item.categories))
            .bind(to_json(&item.enclosures))
            .bind(item.language.as_deref())
            .bind(to_json(&item.extras))
            .bind(item.published.map(ts))
            .bind(item.updated.map(ts))
            .bind(seen)
            .bind(row.hash)
            .bind(self.compared.lines)
            .bind(self.compared.removed)
            .bind(body.map_or(0, |b| b.len() as i64))
    }

    /// Binds its `item_bodies` columns: title_html, summary_html, content_html, cmp_title,
    /// cmp_body.
    fn bind_body<'q>(&'q self, query: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        let rendered = &self.row.rendered;
        query
            .bind(rendered.title_html.as_deref())
            .bind(rendered.summary_html.as_deref())
            .bind(rendered.content_html.as_deref())
            .bind(self.compared.title.as_str())
            .bind(self.compared.body.as_str())
    }
}

/// Stored content hashes of `keys` of `source`, and whether each item still waits for the
/// folding pass.
async fn stored_hashes(
    conn: &mut AnyConnection,
    source: &str,
    keys: &[&str],
) -> Result<HashMap<String, (i64, bool)>, sqlx::Error> {
    let mut stored = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH) {
        let sql = format!(
            "SELECT item_key, content_hash, story_id FROM items WHERE source = $1 AND item_key IN ({})",
            placeholder_list(chunk.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let waiting = row.try_get::<Option<String>, _>("story_id")?.is_none();
            stored.insert(row.try_get("item_key")?, (row.try_get("content_hash")?, waiting));
        }
    }
    Ok(stored)
}

/// The tombstones of `source` (see the module documentation), read in one indexed query
/// (a source has no more of them than its feed has items): which of `keys` retention pruned,
/// and the ids of the tombstones of items not among `keys`.
async fn stored_tombstones(
    conn: &mut AnyConnection,
    source: &str,
    keys: &[&str],
) -> Result<(HashSet<String>, Vec<i64>), sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM item_tombstones WHERE source = $1")
        .bind(source)
        .fetch_all(&mut *conn)
        .await?;
    if ids.is_empty() {
        return Ok((HashSet::new(), Vec::new()));
    }
    let by_id: HashMap<i64, &str> = keys.iter().map(|k| (super::item_id(source, k), *k)).collect();
    let mut pruned = HashSet::new();
    let mut gone = Vec::new();
    for id in ids {
        match by_id.get(&id) {
            Some(key) => {
                pruned.insert(key.to_string());
            }
            None => gone.push(id),
        }
    }
    Ok((pruned, gone))
}

/// `(line hash, items)` of the lines stored for `source` in at least `min` items.
async fn stored_furniture(
    conn: &mut AnyConnection,
    source: &str,
    min: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT line_hash, items FROM source_lines WHERE source = $1 AND items >= $2")
        .bind(source)
        .bind(min)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>("line_hash")?, r.try_get::<i64, _>("items")?)))
        .collect()
}

/// How often each learnable line occurs among `new_items` (one count per item).
fn line_counts<'r>(new_items: impl IntoIterator<Item = &'r ItemRow>) -> Vec<(i64, i64)> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for row in new_items {
        for h in &row.learnable {
            *counts.entry(*h).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// Counts the short lines of new items and returns the source's furniture (lines in at least
/// `min` of its items, counting this batch).
async fn learn_furniture(
    conn: &mut AnyConnection,
    source: &str,
    counts: &[(i64, i64)],
    min: i64,
) -> Result<HashSet<i64>, sqlx::Error> {
    for chunk in counts.chunks(INDEX_ROWS) {
        let sql = format!(
            "INSERT INTO source_lines (source, line_hash, items) VALUES {} \
             ON CONFLICT (source, line_hash) DO UPDATE SET items = source_lines.items + excluded.items",
            (0..chunk.len())
                .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
        for (hash, n) in chunk {
            query = query.bind(*hash).bind(*n);
        }
        query.execute(&mut *conn).await?;
    }
    let furniture = stored_furniture(conn, source, min).await?;
    Ok(furniture.into_iter().map(|(h, _)| h).collect())
}

/// The distinct keys of `items`.
fn distinct_keys(items: &[Item]) -> Vec<&str> {
    let mut keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl Store {
    /// What the store holds of `items` of `source` now (read without the write lock): their
    /// stored content hashes, and the source's lines stored in at least `furniture_min` items.
    pub async fn snapshot(
        &self,
        source: &str,
        items: &[Item],
        furniture_min: i64,
    ) -> Result<Snapshot, StoreError> {
        let read = async {
            let mut conn = self.pool.acquire().await?;
            let keys = distinct_keys(items);
            let stored = stored_hashes(&mut conn, source, &keys).await?;
            let (pruned, _) = stored_tombstones(&mut conn, source, &keys).await?;
            let furniture = stored_furniture(&mut conn, source, furniture_min).await?;
            Ok::<_, sqlx::Error>(Snapshot {
                stored,
                pruned,
                furniture,
            })
        };
        read.await.map_err(query_error("storing items"))
    }

    /// Writes a [`Batch`] in a transaction of its own, under the write lock.
    pub(super) async fn write_alone(
        &self,
        batch: &mut Batch,
        rework: &dyn Rework,
    ) -> Result<Written, StoreError> {
        let err = query_error("storing items");
        let _guard = self.write_guard().await;
        let mut tx = self.writes.begin().await.map_err(query_error("storing items"))?;
        match write_one(&mut tx, batch, rework).await {
            Ok(written) => {
                tx.commit().await.map_err(err)?;
                Ok(written)
            }
            Err(e) => Err(err(e)),
        }
    }
}

/// Writes a [`Batch`] inside the caller's transaction. What is stored is read again first and
/// anything that changed since the snapshot is worked out again (by `rework`), so the result
/// is the same as doing everything inside the transaction.
pub(super) async fn write_one(
    tx: &mut AnyConnection,
    batch: &mut Batch,
    rework: &dyn Rework,
) -> Result<Written, sqlx::Error> {
    let Batch {
        source,
        seen,
        items,
        hashes,
        snapshot,
        sorted,
        rows,
        furniture: guess,
        furniture_min,
        pages,
    } = batch;
    let (seen, source) = (*seen, source.as_str());
    let keys = distinct_keys(items);
    let stored_now = stored_hashes(tx, source, &keys).await?;
    // Tombstones of items the feed no longer carries go: a source never has more tombstones
    // than its feed has items.
    let (pruned_now, gone) = stored_tombstones(tx, source, &keys).await?;
    rows_in(tx, "DELETE FROM item_tombstones WHERE id IN", &gone, "").await?;
    let sorted = if stored_now == snapshot.stored && pruned_now == snapshot.pruned {
        sorted.clone()
    } else {
        let again = Sorted::of(items, hashes, &stored_now, &pruned_now);
        for &i in again.new.iter().chain(&again.changed) {
            rows.entry(i).or_insert_with(|| rework.row(&items[i], hashes[i]));
        }
        again
    };
    let furniture = learn_furniture(
        tx,
        source,
        &line_counts(sorted.new.iter().map(|i| &rows[i])),
        *furniture_min,
    )
    .await?;
    // Items waiting for the folding pass have no band keys yet: that pass indexes them.
    let folded = |i: usize| {
        stored_now
            .get(items[i].key.as_str())
            .is_some_and(|(_, waiting)| !waiting)
    };
    for &i in sorted.new.iter().chain(&sorted.changed) {
        let row = rows.get_mut(&i).expect("worked out above");
        let keys = folded(i);
        let stale = match &row.compared {
            None => true,
            Some(c) => furniture != *guess || (keys && c.band_keys.is_none()),
        };
        if stale {
            row.compared = Some(rework.compare(&items[i], row, &furniture, keys));
        }
    }
    let prepared = |i: &usize| {
        let row = &rows[i];
        Prepared {
            item: &items[*i],
            row,
            compared: row.compared.as_ref().expect("compared above"),
        }
    };
    let changed: Vec<Prepared> = sorted.changed.iter().map(prepared).collect();
    let new: Vec<Prepared> = sorted.new.iter().map(prepared).collect();
    let keyed: Vec<Prepared> = sorted
        .changed
        .iter()
        .filter(|i| folded(**i))
        .map(prepared)
        .collect();
    update_changed(tx, source, &changed, seen).await?;
    replace_keys(tx, &keyed).await?;
    insert_new(tx, source, &new, seen).await?;
    super::pages::write_pages(tx, source, pages).await?;
    if !changed.is_empty() || !new.is_empty() {
        super::bump_generations(tx, &[source]).await?;
    }
    Ok(Written {
        counts: IngestCounts {
            new: new.len(),
            updated: changed.len(),
            unchanged: sorted.unchanged,
        },
        ids: new.iter().chain(&changed).map(|p| p.row.id).collect(),
    })
}

/// Rows of `source_lines` written per statement. Small: SQLite looks each `$n` up in a list
/// of the statement's parameters, so a statement's binding time grows with the square of its
/// parameter count.
const INDEX_ROWS: usize = 100;

/// Replaces the band keys of changed items that already have a story (and the time they are
/// compared by, which a changed publication date moves).
async fn replace_keys(conn: &mut AnyConnection, items: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for p in items {
        let keys = p
            .compared
            .band_keys
            .as_deref()
            .expect("compared with its band keys");
        sqlx::query(
            "INSERT INTO item_keys (item_id, compared_at, band_keys) \
             SELECT id, COALESCE(published, updated, first_seen), $2 FROM items WHERE id = $1 \
             ON CONFLICT (item_id) DO UPDATE SET compared_at = excluded.compared_at, band_keys = excluded.band_keys",
        )
        .bind(p.row.id)
        .bind(super::fold::pack_keys(keys))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Changed items are updated in place, keeping their story.
async fn update_changed(
    conn: &mut AnyConnection,
    source: &str,
    changed: &[Prepared<'_>],
    seen: i64,
) -> Result<(), sqlx::Error> {
    for p in changed {
        let query = sqlx::query(
            "UPDATE items SET guid = $3, url = $4, link = $5, title = $6, authors = $7, categories = $8, \
             enclosures = $9, language = $10, extras = $11, published = $12, updated = $13, last_seen = $14, \
             content_hash = $15, cmp_lines = $16, cmp_removed = $17, body_len = $18 \
             WHERE source = $1 AND item_key = $2",
        )
        .bind(source)
        .bind(&p.item.key);
        p.bind(query, seen).execute(&mut *conn).await?;
        let query = sqlx::query(
            "UPDATE item_bodies SET title_html = $2, summary_html = $3, content_html = $4, cmp_title = $5, \
             cmp_body = $6 WHERE id = $1",
        )
        .bind(p.row.id);
        p.bind_body(query).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The exact group of each new item, from the stored groups of `wanted` (their exact keys),
/// and the keys not yet in a group with the item (its position) whose group they join.
async fn exact_groups<'k>(
    conn: &mut AnyConnection,
    source: &str,
    new: &[Prepared<'k>],
    wanted: &[&str],
) -> Result<(Vec<String>, Vec<(&'k str, usize)>), sqlx::Error> {
    let mut known: HashMap<String, String> = HashMap::with_capacity(wanted.len());
    for row in rows_in(
        conn,
        "SELECT key, exact_id FROM exact_keys WHERE key IN",
        wanted,
        "",
    )
    .await?
    {
        known.insert(row.try_get("key")?, row.try_get("exact_id")?);
    }
    // In feed order, as one item at a time would: the first key with a group gives it, and
    // every key of the item not yet in a group joins this one.
    let mut groups: Vec<String> = Vec::with_capacity(new.len());
    let mut fresh_keys: Vec<(&str, usize)> = Vec::new();
    for (n, p) in new.iter().enumerate() {
        let row: &'k ItemRow = p.row;
        let group = row
            .exact_keys
            .iter()
            .find_map(|k| known.get(k).cloned())
            .unwrap_or_else(|| new_group_id(source, &p.item.key));
        for key in &p.row.exact_keys {
            if !known.contains_key(key) {
                known.insert(key.clone(), group.clone());
                fresh_keys.push((key, n));
            }
        }
        groups.push(group);
    }
    Ok((groups, fresh_keys))
}

/// New items are inserted with their exact group: the group of a stored item (or of an item
/// earlier in this batch) with the same canonical URL or permalink GUID, else a new one.
async fn insert_new(
    conn: &mut AnyConnection,
    source: &str,
    new: &[Prepared<'_>],
    seen: i64,
) -> Result<(), sqlx::Error> {
    let mut wanted: Vec<&str> = new
        .iter()
        .flat_map(|p| p.row.exact_keys.iter().map(String::as_str))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    // PostgreSQL runs sources' transactions side by side: a key that another transaction gave a
    // group after `known` was read is not inserted again (the insert waits for that transaction,
    // then skips the key). Then this attempt's keys are taken back and the groups worked out again
    // from what is stored now, as if the other transaction had come first; keys are inserted in
    // key order so two such transactions cannot deadlock. SQLite writes one transaction at a
    // time, so there the first attempt always holds.
    let groups = loop {
        let (groups, mut fresh_keys) = exact_groups(conn, source, new, &wanted).await?;
        fresh_keys.sort_unstable();
        let mut inserted: Vec<String> = Vec::with_capacity(fresh_keys.len());
        for chunk in fresh_keys.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO exact_keys (key, exact_id) VALUES {} ON CONFLICT (key) DO NOTHING RETURNING key",
                placeholder_rows(conn, chunk.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (key, n) in chunk {
                query = query.bind(*key).bind(groups[*n].as_str());
            }
            for row in query.fetch_all(&mut *conn).await? {
                inserted.push(row.try_get("key")?);
            }
        }
        if inserted.len() == fresh_keys.len() {
            break groups;
        }
        tracing::debug!(source, "exact keys taken by a concurrent fetch: grouping again");
        rows_in(conn, "DELETE FROM exact_keys WHERE key IN", &inserted, "").await?;
    };
    const WIDTH: usize = 21;
    // Rows per statement: on PostgreSQL parameters are numbered (see [`placeholder_rows`]).
    const ITEM_ROWS: usize = 30;
    const BODY_ROWS: usize = 40;
    for (c, chunk) in new.chunks(ITEM_ROWS).enumerate() {
        let sql = format!(
            "INSERT INTO items (source, item_key, guid, url, link, title, authors, categories, enclosures, \
             language, extras, published, updated, last_seen, content_hash, cmp_lines, cmp_removed, body_len, \
             id, exact_id, first_seen) VALUES {}",
            placeholder_rows(conn, chunk.len(), WIDTH)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (j, p) in chunk.iter().enumerate() {
            query = p
                .bind(query.bind(source).bind(&p.item.key), seen)
                .bind(p.row.id)
                .bind(groups[c * ITEM_ROWS + j].as_str())
                .bind(seen);
        }
        query.execute(&mut *conn).await?;
    }
    for chunk in new.chunks(BODY_ROWS) {
        let sql = format!(
            "INSERT INTO item_bodies (id, title_html, summary_html, content_html, cmp_title, cmp_body) VALUES {}",
            placeholder_rows(conn, chunk.len(), 6)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in chunk {
            query = p.bind_body(query.bind(p.row.id));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
