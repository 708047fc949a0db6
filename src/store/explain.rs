//! `explain`: why an item is in its story, or why it stands alone.
//!
//! In: an item reference (its link, URL as written, or GUID) and the folding thresholds.
//! Out: an [`Explanation`]: the item, how much of its text was page furniture, every other
//! member of its story with the similarity and verdict between the two, and its nearest
//! candidates outside the story (from the index, else the items published closest in time) with
//! why each fell short.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use sqlx::{AnyConnection, Row};

use super::fold::{MAX_CANDIDATES, unpack_keys};
use super::ingest::{Candidate, candidate_from_row, rows_in};
use super::{ITEMS_WITH_BODIES, Store, StoreError, query_error};
use crate::transform::fold::{FoldConfig, Similarity, Verdict, compare};

/// Another item, compared with the one explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// Its source.
    pub source: String,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub url: Option<String>,
    /// Its story.
    pub story: String,
    /// Whether it shares an exact key (canonical URL or permalink GUID) with the item.
    pub exact: bool,
    /// How alike the two are.
    pub similarity: Similarity,
    /// What the folding rules say about the pair.
    pub verdict: Verdict,
}

/// The answer of `explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The item's source.
    pub source: String,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub url: Option<String>,
    /// Its story.
    pub story: String,
    /// Lines of its body before furniture removal.
    pub lines: i64,
    /// Lines removed as furniture.
    pub removed: i64,
    /// The other members of its story.
    pub members: Vec<Neighbour>,
    /// Its nearest candidates outside its story (at most 5), best first.
    pub nearest: Vec<Neighbour>,
}

const COLUMNS: &str = "i.id AS id, i.source AS source, i.title AS title, i.link AS link, i.story_id AS story_id, \
     i.exact_id AS exact_id, b.cmp_title AS cmp_title, b.cmp_body AS cmp_body, i.published AS published, \
     i.updated AS updated, i.first_seen AS first_seen";

impl Store {
    /// Explains the folding of the item whose link, URL as written or GUID is `reference`.
    pub async fn explain(
        &self,
        reference: &str,
        cfg: &FoldConfig,
    ) -> Result<Option<Explanation>, StoreError> {
        let err = || query_error("explaining an item");
        let mut conn = self.pool.acquire().await.map_err(err())?;
        let sql = format!(
            "SELECT {COLUMNS}, i.cmp_lines AS cmp_lines, i.cmp_removed AS cmp_removed FROM {ITEMS_WITH_BODIES} \
             WHERE i.link = $1 OR i.url = $1 OR i.guid = $1 ORDER BY i.first_seen, i.id LIMIT 1"
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await
            .map_err(err())?
        else {
            return Ok(None);
        };
        let me = candidate_from_row(&row).map_err(err())?;
        let exact_id: String = row.try_get("exact_id").map_err(err())?;
        let neighbour = |row: &sqlx::any::AnyRow, c: &Candidate| -> Result<Neighbour, sqlx::Error> {
            let (similarity, verdict) = compare(&me.features, &c.features, cfg);
            Ok(Neighbour {
                source: row.try_get("source")?,
                title: row.try_get("title")?,
                url: row.try_get("link")?,
                story: c
                    .story
                    .clone()
                    .unwrap_or_else(|| format!("(waiting for folding; exact group {})", c.exact)),
                exact: row.try_get::<String, _>("exact_id")? == exact_id,
                similarity,
                verdict,
            })
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM {ITEMS_WITH_BODIES} WHERE i.story_id = $1 AND i.id <> $2 ORDER BY i.first_seen, i.id"
        );
        let my_story = me.story.clone().unwrap_or_default();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&my_story)
            .bind(me.id)
            .fetch_all(&mut *conn)
            .await
            .map_err(err())?;
        let mut members = Vec::new();
        for r in &rows {
            let c = candidate_from_row(r).map_err(err())?;
            members.push(neighbour(r, &c).map_err(err())?);
        }
        let keys: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT band_keys FROM item_keys WHERE item_id = $1")
                .bind(me.id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(err())?;
        let keys: HashSet<i64> = keys.flatten().iter().flat_map(|k| unpack_keys(k)).collect();
        let mut near_ids: Vec<i64> = Vec::new();
        for (id, story) in sharing(&mut conn, &keys).await.map_err(err())? {
            if id != me.id && story != me.story {
                near_ids.push(id);
            }
        }
        if near_ids.len() < 5 {
            // Few items share a band key: also look at the items published closest in time, so a
            // lone item still shows what it was measured against.
            let around: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM items WHERE id <> $1 AND (story_id IS NULL OR story_id <> $2) \
                 ORDER BY ABS(COALESCE(published, updated, first_seen) - $3), id LIMIT 500",
            )
            .bind(me.id)
            .bind(&my_story)
            .bind(me.features.published)
            .fetch_all(&mut *conn)
            .await
            .map_err(err())?;
            for id in around {
                if !near_ids.contains(&id) {
                    near_ids.push(id);
                }
            }
        }
        let mut nearest = Vec::new();
        for id in near_ids {
            let sql = format!("SELECT {COLUMNS} FROM {ITEMS_WITH_BODIES} WHERE i.id = $1");
            let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .map_err(err())?;
            let c = candidate_from_row(&r).map_err(err())?;
            nearest.push(neighbour(&r, &c).map_err(err())?);
        }
        nearest.sort_by(|a, b| b.similarity.score().total_cmp(&a.similarity.score()));
        nearest.truncate(5);
        Ok(Some(Explanation {
            source: row.try_get("source").map_err(err())?,
            title: row.try_get("title").map_err(err())?,
            url: row.try_get("link").map_err(err())?,
            story: me
                .story
                .clone()
                .unwrap_or_else(|| format!("(waiting for folding; exact group {})", me.exact)),
            lines: row.try_get("cmp_lines").map_err(err())?,
            removed: row.try_get("cmp_removed").map_err(err())?,
            members,
            nearest,
        }))
    }
}

/// The stored items sharing any of `keys`, most shared first (then lowest id), at most
/// [`MAX_CANDIDATES`], with their stories: the folding pass's candidate lookup, over every
/// stored item.
async fn sharing(
    conn: &mut AnyConnection,
    keys: &HashSet<i64>,
) -> Result<Vec<(i64, Option<String>)>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut shared: Vec<(std::cmp::Reverse<usize>, i64)> = Vec::new();
    let mut rows = sqlx::query(
        "SELECT k.item_id, k.band_keys FROM item_keys k JOIN items i ON i.id = k.item_id \
         WHERE k.band_keys IS NOT NULL",
    )
    .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        let bytes: Vec<u8> = row.try_get("band_keys")?;
        let count = unpack_keys(&bytes).filter(|k| keys.contains(k)).count();
        if count > 0 {
            shared.push((std::cmp::Reverse(count), row.try_get("item_id")?));
        }
    }
    drop(rows);
    shared.sort_unstable();
    shared.truncate(MAX_CANDIDATES);
    let ids: Vec<i64> = shared.into_iter().map(|(_, id)| id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut story: HashMap<i64, Option<String>> = HashMap::new();
    for row in rows_in(conn, "SELECT id, story_id FROM items WHERE id IN", &ids, "").await? {
        story.insert(row.try_get("id")?, row.try_get("story_id")?);
    }
    Ok(ids
        .into_iter()
        .filter_map(|id| story.remove(&id).map(|s| (id, s)))
        .collect())
}
