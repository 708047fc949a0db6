//! The rows `explain` reads: an item, the other members of its story, and the items it might
//! have folded with.
//!
//! In: an item reference (its link, URL as written, or GUID; a story or exact group id; an item
//! id), item ids, band keys. Out: plain
//! rows ([`ShownRow`]: the item's comparison text, source, title and link), the item's band
//! keys, how many of given keys each stored item shares, stories by item id, and the items
//! published closest in time. The comparison itself is [`crate::pipeline::explain`]'s. Every
//! failure is an "explaining an item" query error.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use sqlx::Row;

use super::fold::{TEXT_COLUMNS, TextRow, unpack_keys};
use super::ingest::rows_in;
use super::{ITEMS_WITH_BODIES, Store, StoreError, query_error};

/// An item as `explain` shows it: its comparison text, and what names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownRow {
    /// Its comparison text and times.
    pub text: TextRow,
    /// Its source.
    pub source: String,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub link: Option<String>,
}

impl ShownRow {
    fn read(row: &sqlx::any::AnyRow) -> Result<ShownRow, sqlx::Error> {
        Ok(ShownRow {
            text: TextRow::read(row)?,
            source: row.try_get("source")?,
            title: row.try_get("title")?,
            link: row.try_get("link")?,
        })
    }
}

/// The item explained: its [`ShownRow`], and its body's lines before furniture removal and
/// those removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedRow {
    /// The item.
    pub item: ShownRow,
    /// Lines of its body before furniture removal.
    pub lines: i64,
    /// Lines removed as furniture.
    pub removed: i64,
}

fn columns() -> String {
    format!("{TEXT_COLUMNS}, i.source AS source, i.title AS title, i.link AS link")
}

fn err() -> impl FnOnce(sqlx::Error) -> StoreError {
    query_error("explaining an item")
}

impl Store {
    /// The item whose link, URL as written or GUID is `reference` (the first seen, then lowest
    /// id, of several).
    pub async fn explained_item(&self, reference: &str) -> Result<Option<ExplainedRow>, StoreError> {
        self.explained_where("i.link = $1 OR i.url = $1 OR i.guid = $1", reference)
            .await
    }

    /// The first seen (then lowest id) item of the story or exact group `group`.
    pub async fn explained_item_in_group(&self, group: &str) -> Result<Option<ExplainedRow>, StoreError> {
        self.explained_where("i.story_id = $1 OR i.exact_id = $1", group)
            .await
    }

    /// Every stored item's id, source and key within its source (`dedup = "off"` entry ids
    /// hash the last two).
    pub async fn item_sources_and_keys(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, source, item_key FROM items ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(err())?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("source")?, r.try_get("item_key")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err())
    }

    /// The item `id`, as [`Store::explained_item`] gives it.
    pub async fn explained_item_by_id(&self, id: i64) -> Result<Option<ExplainedRow>, StoreError> {
        self.explained_where("i.id = $1", id).await
    }

    /// The first seen (then lowest id) item for which `condition` holds, `$1` bound to `value`.
    async fn explained_where<'q, T>(
        &self,
        condition: &str,
        value: T,
    ) -> Result<Option<ExplainedRow>, StoreError>
    where
        T: 'q + Send + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        let sql = format!(
            "SELECT {}, i.cmp_lines AS cmp_lines, i.cmp_removed AS cmp_removed FROM {ITEMS_WITH_BODIES} \
             WHERE {condition} ORDER BY i.first_seen, i.id LIMIT 1",
            columns()
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(err())?
        else {
            return Ok(None);
        };
        let read = || -> Result<ExplainedRow, sqlx::Error> {
            Ok(ExplainedRow {
                item: ShownRow::read(&row)?,
                lines: row.try_get("cmp_lines")?,
                removed: row.try_get("cmp_removed")?,
            })
        };
        read().map(Some).map_err(err())
    }

    /// The items of `story` other than `except`, first seen first (then by id).
    pub async fn story_rows(&self, story: &str, except: i64) -> Result<Vec<ShownRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {ITEMS_WITH_BODIES} WHERE i.story_id = $1 AND i.id <> $2 ORDER BY i.first_seen, i.id",
            columns()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(story)
            .bind(except)
            .fetch_all(&self.pool)
            .await
            .map_err(err())?;
        rows.iter()
            .map(ShownRow::read)
            .collect::<Result<_, _>>()
            .map_err(err())
    }

    /// The item `id` (which must exist).
    pub async fn item_row(&self, id: i64) -> Result<ShownRow, StoreError> {
        let sql = format!("SELECT {} FROM {ITEMS_WITH_BODIES} WHERE i.id = $1", columns());
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(err())?;
        ShownRow::read(&row).map_err(err())
    }

    /// Every stored item with band keys sharing any of `keys`, and how many of its keys are
    /// among them (a key counted as often as the item lists it), one pass over `item_keys`.
    pub async fn sharing_keys(&self, keys: &HashSet<i64>) -> Result<Vec<(i64, usize)>, StoreError> {
        let mut shared = Vec::new();
        let mut rows = sqlx::query(
            "SELECT k.item_id, k.band_keys FROM item_keys k JOIN items i ON i.id = k.item_id \
             WHERE k.band_keys IS NOT NULL",
        )
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(err())? {
            let bytes: Vec<u8> = row.try_get("band_keys").map_err(err())?;
            let count = unpack_keys(&bytes).filter(|k| keys.contains(k)).count();
            if count > 0 {
                shared.push((row.try_get("item_id").map_err(err())?, count));
            }
        }
        Ok(shared)
    }

    /// The story of each of `ids` that is stored (None while it waits).
    pub async fn stories_of(&self, ids: &[i64]) -> Result<HashMap<i64, Option<String>>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(err())?;
        let mut story = HashMap::with_capacity(ids.len());
        for row in rows_in(&mut conn, "SELECT id, story_id FROM items WHERE id IN", ids, "")
            .await
            .map_err(err())?
        {
            story.insert(
                row.try_get("id").map_err(err())?,
                row.try_get("story_id").map_err(err())?,
            );
        }
        Ok(story)
    }

    /// The 500 items other than `id` and outside `story` published closest to `at` (unix
    /// seconds; an item without a publication time by its update, else when first seen), then
    /// by id.
    pub async fn closest_in_time(&self, id: i64, story: &str, at: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT id FROM items WHERE id <> $1 AND (story_id IS NULL OR story_id <> $2) \
             ORDER BY ABS(COALESCE(published, updated, first_seen) - $3), id LIMIT 500",
        )
        .bind(id)
        .bind(story)
        .bind(at)
        .fetch_all(&self.pool)
        .await
        .map_err(err())
    }
}
