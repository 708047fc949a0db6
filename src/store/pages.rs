//! The pages of items (full text): what became of each item's link, fetched for its article.
//!
//! In: item ids, a source's name and the time; [`PageRow`]s to record (written with a fetch's
//! items, in its transaction: see [`super::Batch::pages`]). Out: the rows stored for given
//! items or of one source, whether a source has failed pages due for another try, each source's count of pages
//! read and failed, and one item's row for `explain`. Every failure is a "reading pages" query
//! error.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use super::ingest::rows_in;
use super::{Store, StoreError, from_ts, query_error, ts};
use crate::source::http::Validators;

/// Whether an item's page gave its article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStatus {
    /// Its article is kept ([`PageRow::article`]).
    Read,
    /// It failed: the item keeps its feed text until [`PageRow::next_try`].
    Failed,
}

impl PageStatus {
    fn as_str(self) -> &'static str {
        match self {
            PageStatus::Read => "ok",
            PageStatus::Failed => "failed",
        }
    }

    fn from_stored(text: &str) -> PageStatus {
        if text == "ok" {
            PageStatus::Read
        } else {
            PageStatus::Failed
        }
    }
}

/// What the store keeps of one item's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    /// The item's id.
    pub item_id: i64,
    /// The page's URL (the item's link).
    pub url: String,
    /// Whether it gave its article.
    pub status: PageStatus,
    /// Validators for asking for it again.
    pub validators: Validators,
    /// Failures in a row (0 once it was read).
    pub failures: u32,
    /// When a failed page is tried again.
    pub next_try: Option<DateTime<Utc>>,
    /// When it was last fetched.
    pub fetched_at: DateTime<Utc>,
    /// The article's HTML, as extracted, once read.
    pub article: Option<String>,
    /// Why it last failed.
    pub error: Option<String>,
}

/// A source's pages by status, for the index page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageTally {
    /// Pages whose article is kept.
    pub read: i64,
    /// Pages that failed last time (tried again later).
    pub failed: i64,
}

const COLUMNS: &str =
    "item_id, url, status, etag, last_modified, failures, next_try, fetched_at, article, error";

fn read_row(row: &sqlx::any::AnyRow) -> Result<PageRow, sqlx::Error> {
    Ok(PageRow {
        item_id: row.try_get("item_id")?,
        url: row.try_get("url")?,
        status: PageStatus::from_stored(&row.try_get::<String, _>("status")?),
        validators: Validators {
            etag: row.try_get("etag")?,
            last_modified: row.try_get("last_modified")?,
        },
        failures: u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
        next_try: row.try_get::<Option<i64>, _>("next_try")?.map(from_ts),
        fetched_at: from_ts(row.try_get("fetched_at")?),
        article: row.try_get("article")?,
        error: row.try_get("error")?,
    })
}

fn err() -> impl FnOnce(sqlx::Error) -> StoreError {
    query_error("reading pages")
}

/// Records `pages` of `source`'s items, replacing what was stored of them.
pub(super) async fn write_pages(
    conn: &mut AnyConnection,
    source: &str,
    pages: &[PageRow],
) -> Result<(), sqlx::Error> {
    for p in pages {
        sqlx::query(
            "INSERT INTO item_pages (item_id, source, url, status, etag, last_modified, failures, next_try, \
             fetched_at, article, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (item_id) DO UPDATE SET source = excluded.source, url = excluded.url, \
             status = excluded.status, etag = excluded.etag, last_modified = excluded.last_modified, \
             failures = excluded.failures, next_try = excluded.next_try, fetched_at = excluded.fetched_at, \
             article = excluded.article, error = excluded.error",
        )
        .bind(p.item_id)
        .bind(source)
        .bind(&p.url)
        .bind(p.status.as_str())
        .bind(p.validators.etag.as_deref())
        .bind(p.validators.last_modified.as_deref())
        .bind(i64::from(p.failures))
        .bind(p.next_try.map(ts))
        .bind(ts(p.fetched_at))
        .bind(p.article.as_deref())
        .bind(p.error.as_deref())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// The pages stored for the items `ids`, by item id.
    pub async fn pages(&self, ids: &[i64]) -> Result<HashMap<i64, PageRow>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(err())?;
        let rows = rows_in(
            &mut conn,
            &format!("SELECT {COLUMNS} FROM item_pages WHERE item_id IN"),
            ids,
            "",
        )
        .await
        .map_err(err())?;
        rows.iter()
            .map(|r| read_row(r).map(|p| (p.item_id, p)))
            .collect::<Result<_, _>>()
            .map_err(err())
    }

    /// Every page stored for `source`'s items, by item id.
    pub async fn source_pages(&self, source: &str) -> Result<Vec<PageRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM item_pages WHERE source = $1 ORDER BY item_id"
        )))
        .bind(source)
        .fetch_all(&self.pool)
        .await
        .map_err(err())?;
        rows.iter().map(read_row).collect::<Result<_, _>>().map_err(err())
    }

    /// The page stored for item `id`, if any.
    pub async fn page(&self, id: i64) -> Result<Option<PageRow>, StoreError> {
        Ok(self.pages(&[id]).await?.remove(&id))
    }

    /// Whether a failed page of `source`'s items is due for another try at `now`.
    pub async fn pages_due(&self, source: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let due: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM item_pages WHERE source = $1 AND status = 'failed' AND next_try <= $2",
        )
        .bind(source)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await
        .map_err(err())?;
        Ok(due > 0)
    }

    /// Each source's pages read and failed.
    pub async fn page_tallies(&self) -> Result<HashMap<String, PageTally>, StoreError> {
        let rows =
            sqlx::query("SELECT source, status, COUNT(*) AS n FROM item_pages GROUP BY source, status")
                .fetch_all(&self.pool)
                .await
                .map_err(err())?;
        let mut tallies: HashMap<String, PageTally> = HashMap::new();
        for row in &rows {
            let source: String = row.try_get("source").map_err(err())?;
            let status: String = row.try_get("status").map_err(err())?;
            let n: i64 = row.try_get("n").map_err(err())?;
            let tally = tallies.entry(source).or_default();
            match PageStatus::from_stored(&status) {
                PageStatus::Read => tally.read += n,
                PageStatus::Failed => tally.failed += n,
            }
        }
        Ok(tallies)
    }
}
