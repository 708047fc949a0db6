//! Storing a fetch's items and folding them into stories, in one transaction per fetch.
//!
//! In: a source's parsed items, the folding thresholds and a renderer for sanitised HTML.
//! Out: rows in `items`, band keys in `lsh`, line counts in `source_lines`, and the counts of
//! new / updated / unchanged items.
//!
//! A new item is stored with its exact group (items with the same canonical URL or permalink
//! GUID), its comparison text and its band keys, and waits for the folding pass
//! ([`Store::fold_pending`]) to get its story. A changed item is updated in place and keeps
//! its story.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row, Transaction};

use super::{
    IngestCounts, Rendered, Store, StoreError, item_hash, item_id, new_group_id, query_error, to_json, ts,
};
use crate::model::Item;
use crate::transform::exact_keys;
use crate::transform::fold::Features;
use crate::transform::normalize::{self, Comparison, Furniture};

type Tx<'a> = Transaction<'a, Any>;

/// Rows written or looked up per statement (well under SQLite's and PostgreSQL's limits on
/// bound parameters).
const BATCH: usize = 200;

/// The HTML an item is compared by: its full content, else its summary.
fn body_html(item: &Item) -> Option<&str> {
    item.content.as_deref().or(item.summary.as_deref())
}

/// A stored item as the folding step sees it.
pub(super) struct Candidate {
    pub(super) id: i64,
    /// None while the item waits for the folding pass.
    pub(super) story: Option<String>,
    pub(super) exact: String,
    pub(super) features: Features,
}

pub(super) fn candidate_from_row(row: &sqlx::any::AnyRow) -> Result<Candidate, sqlx::Error> {
    let published: Option<i64> = row.try_get("published")?;
    let first_seen: i64 = row.try_get("first_seen")?;
    let comparison = Comparison {
        title: row.try_get("cmp_title")?,
        body: row.try_get("cmp_body")?,
        lines: 0,
        removed: 0,
    };
    let when = super::from_ts(published.unwrap_or(first_seen));
    Ok(Candidate {
        id: row.try_get("id")?,
        story: row.try_get("story_id")?,
        exact: row.try_get("exact_id")?,
        features: Features::new(&comparison, when),
    })
}

/// Stored items sharing any of `keys`, most shared keys first, at most 64.
pub(super) async fn candidates(
    tx: &mut sqlx::AnyConnection,
    keys: &[i64],
) -> Result<Vec<Candidate>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT i.id, i.story_id, i.exact_id, i.cmp_title, i.cmp_body, i.published, i.first_seen, c.shared \
         FROM items i JOIN (SELECT item_id, COUNT(*) AS shared FROM lsh WHERE key IN ({}) GROUP BY item_id) c \
         ON c.item_id = i.id ORDER BY c.shared DESC, i.id LIMIT 64",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in keys {
        query = query.bind(*k);
    }
    query
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(candidate_from_row)
        .collect()
}

async fn insert_keys(tx: &mut Tx<'_>, id: i64, keys: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in keys.chunks(100) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, $1)", i + 2)).collect();
        let sql = format!("INSERT INTO lsh (key, item_id) VALUES {}", values.join(", "));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        for k in chunk {
            query = query.bind(*k);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Counts the short lines of new items and returns the source's furniture (lines in at least
/// [`Furniture::MIN_ITEMS`] of its items, counting this batch).
async fn learn_furniture(
    tx: &mut Tx<'_>,
    source: &str,
    new_items: &[&Item],
) -> Result<Furniture, sqlx::Error> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for item in new_items {
        let lines = body_html(item).map(normalize::text_lines).unwrap_or_default();
        for h in normalize::learnable_lines(&lines) {
            *counts.entry(h).or_default() += 1;
        }
    }
    let counts: Vec<(i64, i64)> = counts.into_iter().collect();
    for chunk in counts.chunks(BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO source_lines (source, line_hash, items) VALUES {} \
             ON CONFLICT (source, line_hash) DO UPDATE SET items = source_lines.items + excluded.items",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
        for (hash, n) in chunk {
            query = query.bind(*hash).bind(*n);
        }
        query.execute(&mut **tx).await?;
    }
    let rows = sqlx::query("SELECT line_hash, items FROM source_lines WHERE source = $1 AND items >= $2")
        .bind(source)
        .bind(Furniture::MIN_ITEMS)
        .fetch_all(&mut **tx)
        .await?;
    let pairs = rows
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>("line_hash")?, r.try_get::<i64, _>("items")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Furniture::from_counts(pairs))
}

impl Store {
    /// Stores one fetch's items for `source` in one transaction: new items are inserted
    /// (waiting for [`Store::fold_pending`]), changed ones updated in place (keeping their
    /// story), unchanged ones left alone. `render` is called only for new and changed items.
    pub async fn ingest(
        &self,
        source: &str,
        items: &[Item],
        now: DateTime<Utc>,
        render: &(dyn Fn(&Item) -> Rendered + Sync),
    ) -> Result<IngestCounts, StoreError> {
        let _guard = self.write_guard().await;
        let err = query_error("storing items");
        let mut tx = self.pool.begin().await.map_err(query_error("storing items"))?;
        match ingest_in(&mut tx, source, items, now, render).await {
            Ok(counts) => {
                tx.commit().await.map_err(err)?;
                Ok(counts)
            }
            Err(e) => Err(err(e)),
        }
    }
}

async fn ingest_in(
    tx: &mut Tx<'_>,
    source: &str,
    items: &[Item],
    now: DateTime<Utc>,
    render: &(dyn Fn(&Item) -> Rendered + Sync),
) -> Result<IngestCounts, sqlx::Error> {
    let mut counts = IngestCounts::default();
    // A feed can list one key twice: the last copy wins, as a refetch would see it.
    let mut latest: HashMap<&str, &Item> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for item in items {
        if latest.insert(&item.key, item).is_none() {
            order.push(&item.key);
        }
    }
    // What is stored already, looked up a batch of keys at a time.
    let mut stored: HashMap<String, i64> = HashMap::new();
    for chunk in order.chunks(BATCH) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT item_key, content_hash FROM items WHERE source = $1 AND item_key IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut **tx).await? {
            stored.insert(row.try_get("item_key")?, row.try_get("content_hash")?);
        }
    }
    let mut new_items = Vec::new();
    let mut changed = Vec::new();
    for key in order {
        let item = latest[key];
        match stored.get(key).copied() {
            Some(h) if h == item_hash(item) => counts.unchanged += 1,
            Some(_) => changed.push(item),
            None => new_items.push(item),
        }
    }
    let furniture = learn_furniture(tx, source, &new_items).await?;
    for item in changed {
        update(tx, source, item, now, &furniture, render).await?;
        counts.updated += 1;
    }
    for item in new_items {
        insert(tx, source, item, now, &furniture, render).await?;
        counts.new += 1;
    }
    Ok(counts)
}

fn comparison_of(item: &Item, furniture: &Furniture) -> Comparison {
    normalize::comparison(item.title.as_deref(), body_html(item), furniture)
}

/// The columns an item's new or changed copy writes, bound in this order as `$n..$n+17`: guid,
/// url, link, title, summary_html, content_html, authors, categories, enclosures, language,
/// published, updated, last_seen, content_hash, cmp_title, cmp_body, cmp_lines, cmp_removed.
struct ItemRow<'a> {
    item: &'a Item,
    rendered: Rendered,
    cmp: Comparison,
    seen: i64,
}

impl<'a> ItemRow<'a> {
    fn new(
        item: &'a Item,
        now: DateTime<Utc>,
        furniture: &Furniture,
        render: &(dyn Fn(&Item) -> Rendered + Sync),
    ) -> Self {
        ItemRow {
            item,
            rendered: render(item),
            cmp: comparison_of(item, furniture),
            seen: ts(now),
        }
    }

    fn bind<'q>(&'q self, query: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        let item = self.item;
        query
            .bind(item.guid.as_deref())
            .bind(item.url.as_deref())
            .bind(item.link.as_deref())
            .bind(item.title.as_deref())
            .bind(self.rendered.summary_html.as_deref())
            .bind(self.rendered.content_html.as_deref())
            .bind(to_json(&item.authors))
            .bind(to_json(&item.categories))
            .bind(to_json(&item.enclosures))
            .bind(item.language.as_deref())
            .bind(item.published.map(ts))
            .bind(item.updated.map(ts))
            .bind(self.seen)
            .bind(item_hash(item))
            .bind(self.cmp.title.as_str())
            .bind(self.cmp.body.as_str())
            .bind(self.cmp.lines as i64)
            .bind(self.cmp.removed as i64)
    }

    fn features(&self) -> Features {
        let when = self
            .item
            .published
            .or(self.item.updated)
            .unwrap_or_else(|| super::from_ts(self.seen));
        Features::new(&self.cmp, when)
    }
}

async fn update(
    tx: &mut Tx<'_>,
    source: &str,
    item: &Item,
    now: DateTime<Utc>,
    furniture: &Furniture,
    render: &(dyn Fn(&Item) -> Rendered + Sync),
) -> Result<(), sqlx::Error> {
    let row = ItemRow::new(item, now, furniture, render);
    let id = item_id(source, &item.key);
    let query = sqlx::query(
        "UPDATE items SET guid = $3, url = $4, link = $5, title = $6, summary_html = $7, content_html = $8, \
         authors = $9, categories = $10, enclosures = $11, language = $12, published = $13, updated = $14, \
         last_seen = $15, content_hash = $16, cmp_title = $17, cmp_body = $18, cmp_lines = $19, cmp_removed = $20 \
         WHERE source = $1 AND item_key = $2",
    )
    .bind(source)
    .bind(&item.key);
    row.bind(query).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM lsh WHERE item_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    insert_keys(tx, id, &row.features().band_keys()).await
}

async fn insert(
    tx: &mut Tx<'_>,
    source: &str,
    item: &Item,
    now: DateTime<Utc>,
    furniture: &Furniture,
    render: &(dyn Fn(&Item) -> Rendered + Sync),
) -> Result<(), sqlx::Error> {
    let id = item_id(source, &item.key);
    let row = ItemRow::new(item, now, furniture, render);

    // The exact group: the one of a stored item with the same canonical URL or permalink GUID.
    let keys = exact_keys(item);
    let mut group = None;
    for key in &keys {
        group = sqlx::query_scalar::<_, String>("SELECT exact_id FROM exact_keys WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
        if group.is_some() {
            break;
        }
    }
    let group = group.unwrap_or_else(|| new_group_id(source, &item.key));
    for key in &keys {
        sqlx::query("INSERT INTO exact_keys (key, exact_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(&group)
            .execute(&mut **tx)
            .await?;
    }
    let query = sqlx::query(
        "INSERT INTO items (source, item_key, guid, url, link, title, summary_html, content_html, authors, \
         categories, enclosures, language, published, updated, last_seen, content_hash, cmp_title, cmp_body, \
         cmp_lines, cmp_removed, id, exact_id, first_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $15)",
    )
    .bind(source)
    .bind(&item.key);
    row.bind(query).bind(id).bind(&group).execute(&mut **tx).await?;
    insert_keys(tx, id, &row.features().band_keys()).await
}
