//! The rows choosing an output's entries reads, on one connection.
//!
//! In: the sources of an output, then the ids of the items wanted in full. Out: every item of
//! those sources as a [`Light`] row (no HTML: the body's length is computed by the database),
//! then the wanted items in full ([`StoredItem`]). Which items are wanted is decided outside the
//! store ([`crate::output::Selector`], driven by [`crate::pipeline::publish::entries`]), so
//! without keyword filters the memory used is bounded by the entries shown, not by the items
//! stored.

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Row};

use super::ingest::{BATCH, placeholder_list};
use super::{ITEM_COLUMNS, ITEMS_WITH_BODIES, Store, StoreError, from_ts, query_error, stored_item};
use crate::model::{Light, Regions, StoredItem};

/// What [`Light`] holds of an item, all in its `items` row (`body_len` counts bytes, as
/// [`StoredItem::body_len`] does).
const LIGHT_COLUMNS: &str = "id, source, item_key, link, title, published, updated, first_seen, exact_id, \
     COALESCE(story_id, exact_id) AS story_id, regions, body_len";

fn light(row: &AnyRow) -> Result<Light, sqlx::Error> {
    Ok(Light {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        key: row.try_get("item_key")?,
        link: row.try_get("link")?,
        title: row.try_get("title")?,
        published: row.try_get::<Option<i64>, _>("published")?.map(from_ts),
        updated: row.try_get::<Option<i64>, _>("updated")?.map(from_ts),
        first_seen: from_ts(row.try_get("first_seen")?),
        exact_id: row.try_get("exact_id")?,
        story_id: row.try_get("story_id")?,
        regions: Regions::from_column(&row.try_get::<String, _>("regions")?),
        body_len: usize::try_from(row.try_get::<i64, _>("body_len")?).unwrap_or(0),
    })
}

impl Store {
    /// Stories whose earliest copy was first stored before this time (unix seconds; 0 for a
    /// store created with per-output ids) keep the entry id every output gave them before (see
    /// [`output`](crate::output), "Entry ids").
    pub fn legacy_ids_before(&self) -> i64 {
        self.legacy_ids_before
    }

    /// A reader for choosing an output's entries: one connection for every read, because each
    /// connection of the pool maps the database file (`mmap_size`), and a scan through several
    /// would count it several times in our RSS.
    pub async fn selecting(&self) -> Result<Selecting, StoreError> {
        let conn = self
            .pool
            .acquire()
            .await
            .map_err(query_error("selecting entries"))?;
        Ok(Selecting { conn })
    }
}

/// The reads of choosing an output's entries (see [`Store::selecting`]).
pub struct Selecting {
    conn: PoolConnection<Any>,
}

impl Selecting {
    /// Every item of `sources`, without its HTML.
    pub async fn light(&mut self, sources: &[&str]) -> Result<Vec<Light>, StoreError> {
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let mut items = Vec::new();
        each_item_where_in(
            &mut self.conn,
            LIGHT_COLUMNS,
            "items",
            "source",
            &sources,
            "selecting entries",
            |row| {
                items.push(light(row)?);
                Ok(())
            },
        )
        .await?;
        Ok(items)
    }

    /// The items of `ids` in full, with their ids (an id no longer stored is left out).
    pub async fn full(&mut self, ids: &[i64]) -> Result<Vec<(i64, StoredItem)>, StoreError> {
        let columns = format!("i.id AS id, {ITEM_COLUMNS}");
        let mut items = Vec::with_capacity(ids.len());
        each_item_where_in(
            &mut self.conn,
            &columns,
            ITEMS_WITH_BODIES,
            "i.id",
            ids,
            "reading the entries shown",
            |row| {
                items.push((row.try_get("id")?, stored_item(row)?));
                Ok(())
            },
        )
        .await?;
        Ok(items)
    }
}

/// Calls `each` with `columns` of every row of `from` whose `column` is one of `values`, a batch
/// of values per statement, one row in memory at a time.
async fn each_item_where_in<T>(
    conn: &mut AnyConnection,
    columns: &str,
    from: &str,
    column: &str,
    values: &[T],
    what: &'static str,
    mut each: impl FnMut(&AnyRow) -> Result<(), sqlx::Error>,
) -> Result<(), StoreError>
where
    T: Clone + Send + for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + 'static,
{
    for chunk in values.chunks(BATCH) {
        let sql = format!(
            "SELECT {columns} FROM {from} WHERE {column} IN ({})",
            placeholder_list(chunk.len(), 1)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in chunk {
            query = query.bind(value.clone());
        }
        let mut rows = query.fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(query_error(what))? {
            each(&row).map_err(query_error(what))?;
        }
    }
    Ok(())
}
