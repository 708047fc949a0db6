//! Storing a fetch's items and folding them into stories, in one transaction per fetch.
//!
//! In: a source's parsed items, the folding thresholds and a renderer for sanitised HTML.
//! Out: rows in `items` and `item_bodies` (its HTML and comparison text), band keys in
//! `item_keys`, line counts in `source_lines`, and the counts of new / updated / unchanged items.
//!
//! A new item is stored with its exact group (items with the same canonical URL or permalink
//! GUID) and its comparison text, and waits for the folding pass ([`crate::pipeline::fold`]),
//! which indexes its band keys and gives it its story. A changed item is updated in place and
//! keeps its story (and, if it has one, its band keys are replaced).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use super::{
    IngestCounts, Rendered, Store, StoreError, item_hash, item_id, new_group_id, query_error, to_json, ts,
};
use crate::model::{Item, Regions};
use crate::transform::exact_keys;
use crate::transform::fold::Features;
use crate::transform::normalize::{self, Comparison, Furniture};
use crate::transform::region::Gazetteer;

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

/// The HTML an item is compared by: its full content, else its summary.
fn body_html(item: &Item) -> Option<&str> {
    item.content.as_deref().or(item.summary.as_deref())
}

/// What a new or changed item's rows need beside the item itself. Worked out before the write
/// lock is taken (sanitising and comparison text are most of the cost of storing an item), so
/// sources are prepared in parallel while another one writes.
struct Work {
    id: i64,
    hash: i64,
    rendered: Rendered,
    /// The body's text lines: furniture counting and the comparison text both start from them,
    /// so the HTML is converted to text once.
    lines: Vec<String>,
    /// Comparison text, under the furniture it was computed with.
    cmp: Comparison,
    exact_keys: Vec<String>,
    /// What the folding pass will need of it, from `cmp` (see [`Ready`]); None until `cmp` is
    /// computed, and once the pass has been handed it.
    ready: Option<Ready>,
}

impl Work {
    fn new(item: &Item, source: &str, hash: i64, render: &(dyn Fn(&Item) -> Rendered + Sync)) -> Work {
        Work {
            id: item_id(source, &item.key),
            hash,
            rendered: render(item),
            lines: body_html(item).map(normalize::text_lines).unwrap_or_default(),
            cmp: Comparison::default(),
            exact_keys: exact_keys(item),
            ready: None,
        }
    }

    /// Comparison text of the item titled `title` under `furniture`, and what the folding pass
    /// needs of it: its fold features (compared at `when`) and its regions as a story of its own
    /// (`prior`: its source's `[[source]] region`).
    fn compare(
        &mut self,
        title: Option<&str>,
        furniture: &Furniture,
        source: &str,
        when: DateTime<Utc>,
        prior: Option<usize>,
    ) {
        self.cmp = normalize::comparison_of_lines(title, &self.lines, furniture);
        self.ready = Some(Ready {
            hash: self.hash,
            source: source.to_string(),
            prior,
            features: Features::new(&self.cmp, when),
            alone: Regions(
                Gazetteer::embedded().classify([(self.cmp.title.as_str(), self.cmp.body.as_str())], prior),
            ),
        });
    }
}

/// What the folding pass needs of a new item, worked out when it was stored (on whichever core
/// stored it) instead of in the pass (on one): see [`crate::pipeline::fold::fold_pending`].
/// Valid while the stored item's content hash is `hash`.
#[derive(Debug)]
pub(crate) struct Ready {
    pub(crate) hash: i64,
    pub(crate) source: String,
    /// The source's `[[source]] region` it was tagged with.
    pub(crate) prior: Option<usize>,
    /// Its fold features (their `published` is set again from the stored row).
    pub(crate) features: Features,
    /// Its regions as a story of one copy.
    pub(crate) alone: Regions,
}

/// The time an item is compared by: its publication, else its update, else when it was first
/// seen (as the folding pass reads it back).
fn compared_at(item: &Item, first_seen: DateTime<Utc>) -> DateTime<Utc> {
    item.published.or(item.updated).unwrap_or(first_seen)
}

/// A new or changed item and its [`Work`], as the write steps take them.
struct Prepared<'a> {
    item: &'a Item,
    work: &'a Work,
}

impl Prepared<'_> {
    /// Band keys of the comparison text (they depend on the text only).
    fn band_keys(&self) -> Vec<i64> {
        let ready = self
            .work
            .ready
            .as_ref()
            .expect("every written item is compared first");
        ready.features.band_keys()
    }

    /// Binds the `items` columns a new or changed copy writes, in this order: guid, url, link,
    /// title, authors, categories, enclosures, language, extras, published, updated, last_seen,
    /// content_hash, cmp_lines, cmp_removed, body_len.
    fn bind<'q>(&'q self, query: Query<'q, Any, AnyArguments>, seen: i64) -> Query<'q, Any, AnyArguments> {
        let (item, work) = (self.item, self.work);
        let body = work
            .rendered
            .content_html
            .as_ref()
            .or(work.rendered.summary_html.as_ref());
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
            .bind(work.hash)
            .bind(work.cmp.lines as i64)
            .bind(work.cmp.removed as i64)
            .bind(body.map_or(0, |b| b.len() as i64))
    }

    /// Binds its `item_bodies` columns: title_html, summary_html, content_html, cmp_title,
    /// cmp_body.
    fn bind_body<'q>(&'q self, query: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        let work = self.work;
        query
            .bind(work.rendered.title_html.as_deref())
            .bind(work.rendered.summary_html.as_deref())
            .bind(work.rendered.content_html.as_deref())
            .bind(work.cmp.title.as_str())
            .bind(work.cmp.body.as_str())
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

/// The furniture stored for `source`.
async fn stored_furniture(conn: &mut AnyConnection, source: &str) -> Result<Furniture, sqlx::Error> {
    let rows = sqlx::query("SELECT line_hash, items FROM source_lines WHERE source = $1 AND items >= $2")
        .bind(source)
        .bind(Furniture::MIN_ITEMS)
        .fetch_all(&mut *conn)
        .await?;
    let pairs = rows
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>("line_hash")?, r.try_get::<i64, _>("items")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Furniture::from_counts(pairs))
}

/// How often each learnable line occurs among `new_items` (one count per item).
fn line_counts<'w>(new_items: impl IntoIterator<Item = &'w Work>) -> Vec<(i64, i64)> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for w in new_items {
        for h in normalize::learnable_lines(&w.lines) {
            *counts.entry(h).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// Counts the short lines of new items and returns the source's furniture (lines in at least
/// [`Furniture::MIN_ITEMS`] of its items, counting this batch).
async fn learn_furniture(
    conn: &mut AnyConnection,
    source: &str,
    counts: &[(i64, i64)],
) -> Result<Furniture, sqlx::Error> {
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
    stored_furniture(conn, source).await
}

/// Which of a fetch's items are new, changed or unchanged against `stored`, as positions in
/// the fetch's [`latest_copies`].
struct Sorted {
    new: Vec<usize>,
    changed: Vec<usize>,
    unchanged: usize,
}

fn sort_items(latest: &[Item], stored: &HashMap<String, (i64, bool)>) -> Sorted {
    let mut sorted = Sorted {
        new: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (i, item) in latest.iter().enumerate() {
        match stored.get(item.key.as_str()).map(|(h, _)| *h) {
            Some(h) if h == item_hash(item) => sorted.unchanged += 1,
            Some(_) => sorted.changed.push(i),
            None => sorted.new.push(i),
        }
    }
    sorted
}

/// What the store holds of a fetch's items, read before the write lock is taken.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Content hash of each stored key, and whether the item still waits for the folding pass.
    stored: HashMap<String, (i64, bool)>,
    /// The source's furniture.
    furniture: Furniture,
}

/// A fetch's items worked out against a [`Snapshot`]: which are new, changed or unchanged, and
/// for the new and changed ones their sanitised HTML, text lines and comparison text. It owns
/// everything, so it can be built on another thread; [`Store::write`] stores it.
pub struct Batch {
    source: String,
    seen: i64,
    /// The last copy of each key, in the order the feed first lists it.
    latest: Vec<Item>,
    snapshot: Snapshot,
    /// Positions in `latest` of the new and the changed items, and how many are unchanged.
    new: Vec<usize>,
    changed: Vec<usize>,
    unchanged: usize,
    /// The work for the new and changed items, by position in `latest`.
    work: HashMap<usize, Work>,
    /// The furniture the comparison text was computed with.
    guess: Furniture,
    /// The source's `[[source]] region`.
    prior: Option<usize>,
    /// Positions in `latest` of the items the last write stored (new or changed).
    written: Vec<usize>,
}

/// The last copy of each key among `items`, in the order the feed first lists each key.
fn latest_copies(items: Vec<Item>) -> Vec<Item> {
    let mut position: HashMap<String, usize> = HashMap::with_capacity(items.len());
    let mut latest: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        match position.get(item.key.as_str()) {
            Some(&i) => latest[i] = item,
            None => {
                position.insert(item.key.clone(), latest.len());
                latest.push(item);
            }
        }
    }
    latest
}

/// The distinct keys of `items`.
fn distinct_keys(items: &[Item]) -> Vec<&str> {
    let mut keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl Batch {
    /// The source whose items these are.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Works out `items` of `source` (a fetch at `now`) against `snapshot`: pure CPU work,
    /// sanitising with `render` only the new and changed items.
    pub fn prepare(
        source: &str,
        items: Vec<Item>,
        snapshot: Snapshot,
        now: DateTime<Utc>,
        prior: Option<usize>,
        render: &(dyn Fn(&Item) -> Rendered + Sync),
    ) -> Batch {
        let latest = latest_copies(items);
        let sorted = sort_items(&latest, &snapshot.stored);
        let mut work: HashMap<usize, Work> = sorted
            .new
            .iter()
            .chain(&sorted.changed)
            .map(|&i| (i, Work::new(&latest[i], source, item_hash(&latest[i]), render)))
            .collect();
        let counts = line_counts(sorted.new.iter().map(|i| &work[i]));
        // The furniture this batch will leave, as far as can be told without the lock: lines
        // stored as furniture, and lines this batch alone repeats often enough.
        let guess = Furniture::from_counts(
            snapshot
                .furniture
                .lines()
                .map(|h| (h, Furniture::MIN_ITEMS))
                .chain(counts.iter().copied()),
        );
        for (&i, w) in work.iter_mut() {
            w.compare(
                latest[i].title.as_deref(),
                &guess,
                source,
                compared_at(&latest[i], now),
                prior,
            );
        }
        Batch {
            source: source.to_string(),
            seen: ts(now),
            latest,
            snapshot,
            new: sorted.new,
            changed: sorted.changed,
            unchanged: sorted.unchanged,
            work,
            guess,
            prior,
            written: Vec::new(),
        }
    }

    /// What the folding pass needs of the items the last write stored (by item id), taken out:
    /// call it once the write is committed.
    pub(super) fn take_ready(&mut self) -> Vec<(i64, Ready)> {
        let written = std::mem::take(&mut self.written);
        written
            .iter()
            .filter_map(|i| {
                let w = self.work.get_mut(i)?;
                Some((w.id, w.ready.take()?))
            })
            .collect()
    }
}

impl Store {
    /// Stores one fetch's items for `source` in one transaction: new items are inserted
    /// (waiting for [`crate::pipeline::fold`]), changed ones updated in place (keeping their
    /// story), unchanged ones left alone. `render` is called only for new and changed items.
    ///
    /// The same as [`Store::snapshot`], [`Batch::prepare`] and [`Store::write`] in turn (in a
    /// transaction of its own); a caller that wants the costly middle step on another thread, and
    /// its write grouped with others, calls them itself.
    pub async fn ingest(
        &self,
        source: &str,
        items: &[Item],
        now: DateTime<Utc>,
        render: &(dyn Fn(&Item) -> Rendered + Sync),
    ) -> Result<IngestCounts, StoreError> {
        let snapshot = self.snapshot(source, items).await?;
        let mut batch = Batch::prepare(source, items.to_vec(), snapshot, now, None, render);
        self.write_alone(&mut batch, render).await
    }

    /// What the store holds of `items` of `source` now (read without the write lock).
    pub async fn snapshot(&self, source: &str, items: &[Item]) -> Result<Snapshot, StoreError> {
        let read = async {
            let mut conn = self.pool.acquire().await?;
            let stored = stored_hashes(&mut conn, source, &distinct_keys(items)).await?;
            let furniture = stored_furniture(&mut conn, source).await?;
            Ok::<_, sqlx::Error>(Snapshot { stored, furniture })
        };
        read.await.map_err(query_error("storing items"))
    }

    /// Writes a [`Batch`] in a transaction of its own, under the write lock.
    pub(super) async fn write_alone(
        &self,
        batch: &mut Batch,
        render: &(dyn Fn(&Item) -> Rendered + Sync),
    ) -> Result<IngestCounts, StoreError> {
        let err = query_error("storing items");
        let _guard = self.write_guard().await;
        let mut tx = self.writes.begin().await.map_err(query_error("storing items"))?;
        match write_one(&mut tx, batch, render).await {
            Ok(counts) => {
                tx.commit().await.map_err(err)?;
                self.keep_ready(batch.take_ready());
                Ok(counts)
            }
            Err(e) => Err(err(e)),
        }
    }
}

/// Writes a [`Batch`] inside the caller's transaction. What is stored is read again first and
/// anything that changed since the snapshot is worked out again (with `render`), so the result
/// is the same as doing everything inside the transaction.
pub(super) async fn write_one(
    tx: &mut AnyConnection,
    batch: &mut Batch,
    render: &(dyn Fn(&Item) -> Rendered + Sync),
) -> Result<IngestCounts, sqlx::Error> {
    let Batch {
        source,
        seen,
        latest,
        snapshot,
        new,
        changed,
        unchanged,
        work,
        guess,
        prior,
        written,
    } = batch;
    let (seen, unchanged, guess, prior) = (*seen, *unchanged, &*guess, *prior);
    let (new, changed) = (new.clone(), changed.clone());
    let source = source.as_str();
    let keys = distinct_keys(latest);
    let stored_now = stored_hashes(tx, source, &keys).await?;
    let sorted = if stored_now == snapshot.stored {
        Sorted {
            new,
            changed,
            unchanged,
        }
    } else {
        let again = sort_items(latest, &stored_now);
        for &i in again.new.iter().chain(&again.changed) {
            let item = &latest[i];
            work.entry(i)
                .or_insert_with(|| Work::new(item, source, item_hash(item), render));
        }
        again
    };
    let furniture = learn_furniture(tx, source, &line_counts(sorted.new.iter().map(|i| &work[i]))).await?;
    for i in sorted.new.iter().chain(&sorted.changed) {
        let w = work.get_mut(i).expect("worked out above");
        if furniture != *guess || w.ready.is_none() {
            let item = &latest[*i];
            w.compare(
                item.title.as_deref(),
                &furniture,
                source,
                compared_at(item, super::from_ts(seen)),
                prior,
            );
        }
    }
    let prepared = |i: &usize| Prepared {
        item: &latest[*i],
        work: &work[i],
    };
    let changed: Vec<Prepared> = sorted.changed.iter().map(prepared).collect();
    let new: Vec<Prepared> = sorted.new.iter().map(prepared).collect();
    // Items waiting for the folding pass have no band keys yet: that pass indexes them.
    let folded: Vec<Prepared> = sorted
        .changed
        .iter()
        .filter(|i| {
            stored_now
                .get(latest[**i].key.as_str())
                .is_some_and(|(_, waiting)| !waiting)
        })
        .map(prepared)
        .collect();
    update_changed(tx, source, &changed, seen).await?;
    replace_keys(tx, &folded).await?;
    insert_new(tx, source, &new, seen).await?;
    *written = sorted.new.iter().chain(&sorted.changed).copied().collect();
    if !changed.is_empty() || !new.is_empty() {
        super::bump_generations(tx, &[source]).await?;
    }
    Ok(IngestCounts {
        new: new.len(),
        updated: changed.len(),
        unchanged: sorted.unchanged,
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
        sqlx::query(
            "INSERT INTO item_keys (item_id, compared_at, band_keys) \
             SELECT id, COALESCE(published, updated, first_seen), $2 FROM items WHERE id = $1 \
             ON CONFLICT (item_id) DO UPDATE SET compared_at = excluded.compared_at, band_keys = excluded.band_keys",
        )
        .bind(p.work.id)
        .bind(super::fold::pack_keys(&p.band_keys()))
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
        .bind(p.work.id);
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
        let work: &'k Work = p.work;
        let group = work
            .exact_keys
            .iter()
            .find_map(|k| known.get(k).cloned())
            .unwrap_or_else(|| new_group_id(source, &p.item.key));
        for key in &p.work.exact_keys {
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
        .flat_map(|p| p.work.exact_keys.iter().map(String::as_str))
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
                .bind(p.work.id)
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
            query = p.bind_body(query.bind(p.work.id));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
