//! What the store says about each source and its totals, for the daemon's index page,
//! `/readyz` and `/metrics`.
//!
//! In: nothing but the store. Out: a [`SourceStatus`] per source that has been fetched (last
//! fetch, result, error, items stored, its items' pages read and failed), and the item and
//! story totals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{FetchStatus, PageTally, Store, StoreError, from_ts, query_error};

/// The last fetch of a source, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// When it was last fetched.
    pub last_fetch: Option<DateTime<Utc>>,
    /// How the last fetch ended.
    pub last_status: Option<FetchStatus>,
    /// The last error, when it failed.
    pub last_error: Option<String>,
    /// When it last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// The feed's own title.
    pub title: Option<String>,
    /// Items stored from it.
    pub items: i64,
    /// Its items' pages read and failed (full text).
    pub pages: PageTally,
}

/// Item and story totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Stored items.
    pub items: i64,
    /// Distinct stories among them.
    pub stories: i64,
}

impl Store {
    /// Every recorded source's status, by name.
    pub async fn source_statuses(&self) -> Result<HashMap<String, SourceStatus>, StoreError> {
        let what = "reading source status";
        let counts: HashMap<String, i64> =
            sqlx::query("SELECT source, COUNT(*) AS n FROM items GROUP BY source")
                .fetch_all(&self.pool)
                .await
                .map_err(query_error(what))?
                .iter()
                .map(|r| Ok((r.try_get("source")?, r.try_get("n")?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(query_error(what))?;
        let pages = self.page_tallies().await?;
        let rows =
            sqlx::query("SELECT name, title, last_fetch, last_status, last_error, last_success FROM sources")
                .fetch_all(&self.pool)
                .await
                .map_err(query_error(what))?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let status = SourceStatus {
                    last_fetch: r.try_get::<Option<i64>, _>("last_fetch")?.map(from_ts),
                    last_status: r
                        .try_get::<Option<String>, _>("last_status")?
                        .as_deref()
                        .and_then(FetchStatus::from_stored),
                    last_error: r.try_get("last_error")?,
                    last_success: r.try_get::<Option<i64>, _>("last_success")?.map(from_ts),
                    title: r.try_get("title")?,
                    items: counts.get(&name).copied().unwrap_or(0),
                    pages: pages.get(&name).copied().unwrap_or_default(),
                };
                Ok((name, status))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error(what))
    }

    /// How many items and stories are stored.
    pub async fn totals(&self) -> Result<Totals, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS items, COUNT(DISTINCT COALESCE(story_id, exact_id)) AS stories FROM items",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(query_error("counting items"))?;
        Ok(Totals {
            items: row.try_get("items").map_err(query_error("counting items"))?,
            stories: row.try_get("stories").map_err(query_error("counting items"))?,
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(query_error("pinging the store"))
    }
}
