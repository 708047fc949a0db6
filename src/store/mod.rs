//! The store: sources, items and the exact-duplicate index, in SQLite or PostgreSQL.
//!
//! In: a fetch's items as plain rows (worked out by [`crate::pipeline::ingest`]: sanitised HTML,
//! comparison text, exact keys), fetch results. Out: stored items with their story ids, the ids
//! of the items each write stored, per-source fetch state.
//!
//! One sqlx code path serves both databases (`AnyPool`, `$n` placeholders, one migrations
//! folder, portable SQL). Each source's items are written in one transaction, so a crash leaves
//! either the whole fetch or none of it. Fetching the same feed again never duplicates an item:
//! items are keyed by `(source, item key)`; a changed item is updated in place and keeps its story.
//!
//! Opening is safe when any number of processes open one store at once, new or not: migrations
//! and every other write opening makes run in one transaction under the store's migration lock
//! (see `store/migrate.rs`). A database that cannot be reached fails at once, or within
//! [`CONNECT_TIMEOUT`], with the driver's cause ("connection refused", "role … does not exist")
//! and the store's URL without its password: the first connection is made directly, not through
//! a pool, whose retries would hide the cause behind "pool timed out".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Row};
use tokio::sync::Mutex;
use xxhash_rust::xxh3::Xxh3;

use crate::model::{Item, Regions, Skip, StoredItem};
use crate::schedule::State;
use crate::source::http::Validators;

mod explain;
mod fold;
mod ingest;
mod lease;
mod migrate;
mod pages;
mod prune;
mod queue;
mod select;
mod status;

pub use explain::{ExplainedRow, ShownRow};
pub use fold::{CopyRow, FOLD_LOCK, FoldTx, MemberRow, Pair, PairKind, TextRow, WaitingRow};
pub use ingest::{Batch, Compared, ItemRow, Rework, Snapshot, Sorted, Written};
pub use lease::{Busy, DUE_TOLERANCE, Holder, Taking, process_alive};
pub use migrate::MIGRATE_LOCK;
pub use pages::{PageRow, PageStatus, PageTally};
pub use prune::{Expired, Pruned};
pub use select::Selecting;
pub use status::{SourceStatus, Totals};

/// SQLite settings for every connection: a busy timeout instead of immediate "database is
/// locked" (first, so every later statement waits for a lock instead of failing), WAL (readers
/// never block the writer; a crash loses at most the last transactions, never consistency),
/// and an 8 MiB page cache. No memory-mapped reads: each pooled connection maps the file on its
/// own and every mapped page counts in the process's memory (benchmark (iv): 684 MB peak with
/// 256 MiB maps and 32 MiB caches, 390 MB without, at the same speed, since candidate lookup no
/// longer walks an on-disk index). The WAL is checkpointed every 10,000 pages (40 MiB) rather
/// than SQLite's 1,000: each checkpoint syncs the file, and a cold cycle writes about 100 MB of
/// items (`bench/sqlite_checkpoint.py` on benchmark (iv)'s store: 1.4 s instead of 2.0 s for its
/// 30,000 items, 30 per transaction).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -8192; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY; \
     PRAGMA wal_autocheckpoint = 10000;";

/// How long SQLite waits for a lock (the busy timeout in [`SQLITE_PRAGMAS`]).
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(10);

/// How long opening a store waits for its first connection: a server that does not answer
/// (a dropped packet, a firewall) fails the open after this, not after the operating system's
/// TCP timeout. A refused connection or a server's refusal (unknown role or database, bad
/// password) fails at once.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a PostgreSQL query waits for a pooled connection: a server that goes away while
/// the store is open fails queries after this rather than sqlx's 30 s. SQLite keeps 30 s:
/// there a query only ever waits for another of its own connections, and the single writing
/// connection can be busy with a long folding pass.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A store failure, naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("store: cannot open {url}")]
    Open {
        /// The URL (without its password).
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database did not answer within [`CONNECT_TIMEOUT`].
    #[error("store: cannot open {url}: no connection within {} s", after.as_secs())]
    ConnectTimeout {
        /// The URL (without its password).
        url: String,
        /// How long it waited.
        after: Duration,
    },
    /// Reading, locking or recording the store's migrations failed.
    #[error("store: cannot migrate the store")]
    Migrations(#[source] sqlx::Error),
    /// A migration failed (nothing of it, or of the migrations applied with it, is kept).
    #[error("store: migration {version} ({description}) failed")]
    Migrate {
        /// The migration's version.
        version: i64,
        /// What it does.
        description: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The store records a migration under a version this program has with other SQL.
    #[error("store: migration {0} recorded in the store differs from this feedfold's migration {0}")]
    MigrationChanged(i64),
    /// The store records a migration this program does not have: a newer feedfold migrated it.
    #[error(
        "store: the store has migration {0}, which this feedfold does not know (a newer version migrated it)"
    )]
    UnknownMigration(i64),
    /// The store records a migration as started and not finished.
    #[error("store: migration {0} was started and not finished; the store needs repair")]
    MigrationUnfinished(i64),
    /// A write queued to be committed with others (see [`Store::write`]) was not finished.
    #[error("store: a queued write was not finished: {0}")]
    Unfinished(String),
    /// A query failed.
    #[error("store: {what} failed")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

pub(crate) fn query_error(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

/// What a store keeps of a source between fetches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    /// Where to fetch from now, if a permanent redirect moved the source.
    pub fetch_url: Option<String>,
    /// Validators for a conditional GET.
    pub validators: Validators,
    /// What its fetches said about when to fetch it again.
    pub schedule: State,
}

/// What a store remembers of a source's schedule (see [`Store::schedules`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    /// The URL it was configured with when last fetched: what is remembered holds for it only.
    pub url: String,
    /// What its fetches said.
    pub state: State,
    /// When it is next due, as the last process that fetched it recorded.
    pub due: Option<DateTime<Utc>>,
}

/// How one fetch's items were stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Items not seen before.
    pub new: usize,
    /// Items seen before whose content changed (updated in place).
    pub updated: usize,
    /// Items seen before, unchanged.
    pub unchanged: usize,
}

/// How a source's fetch ended, as the store records it (`sources.last_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    /// A body was read and its items stored (`ok`).
    Stored,
    /// The server said the feed had not changed (`not_modified`).
    NotModified,
    /// The fetch, the parse or the store failed (`failed`).
    Failed,
}

impl FetchStatus {
    /// The text stored for it.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchStatus::Stored => "ok",
            FetchStatus::NotModified => "not_modified",
            FetchStatus::Failed => "failed",
        }
    }

    /// The status a stored text stands for (`None` for text no version wrote).
    pub fn from_stored(text: &str) -> Option<FetchStatus> {
        [FetchStatus::Stored, FetchStatus::NotModified, FetchStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The result of one fetch, as recorded for a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRecord<'a> {
    /// How it ended.
    pub status: FetchStatus,
    /// The error, when failed.
    pub error: Option<&'a str>,
    /// New validators (kept when None).
    pub validators: Option<&'a Validators>,
    /// The source's new address after a permanent redirect.
    pub moved_to: Option<&'a str>,
    /// Feed title and link, when parsed.
    pub title: Option<&'a str>,
    /// Feed home page.
    pub link: Option<&'a str>,
    /// The source's schedule state after this fetch.
    pub schedule: State,
}

/// Sanitised HTML for an item, computed only for new or changed items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Sanitised title HTML, when the feed gave the title as HTML with markup.
    pub title_html: Option<String>,
    /// Sanitised summary.
    pub summary_html: Option<String>,
    /// Sanitised content.
    pub content_html: Option<String>,
}

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// SQLite: one process writes at a time.
    Sqlite,
    /// PostgreSQL: several daemons write side by side.
    Postgres,
}

/// The store. Cloning it is cheap: clones share the connection pool and the write lock.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go. On SQLite a pool of one connection of its own: a connection's page cache
    /// survives its own commits but is dropped whenever another connection has written, so
    /// writing through whichever connection is free re-read every page a write touched
    /// (benchmark (iv)'s cold cycle: 320,000 page reads for a 190 MB store). On PostgreSQL the
    /// same pool as reads.
    writes: AnyPool,
    backend: Backend,
    /// SQLite allows one writer; taking this lock around write transactions avoids
    /// "database is locked" when several sources finish at once. PostgreSQL does not need it.
    write_lock: Option<Arc<Mutex<()>>>,
    /// SQLite only: batches waiting to be written together (see [`Store::write`]).
    queue: Option<queue::Queue>,
    /// Stories whose earliest copy was first stored before this time (unix seconds) keep their
    /// legacy entry id in every output (`store_meta.legacy_ids_before`, recorded by migration
    /// 7; see `output`, "Entry ids").
    legacy_ids_before: i64,
}

/// The id of an item: a hash of its source and key, the same on every daemon.
pub(crate) fn item_id(source: &str, key: &str) -> i64 {
    let mut h = Xxh3::new();
    h.update(source.as_bytes());
    h.update(&[0]);
    h.update(key.as_bytes());
    h.update(&[1]);
    h.digest() as i64
}

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// A hash of everything the feed says about an item: a changed hash means "updated".
pub(crate) fn item_hash(item: &Item) -> i64 {
    let mut h = Xxh3::new();
    let mut field = |s: Option<&str>| {
        h.update(s.unwrap_or("").as_bytes());
        h.update(&[0xff]);
    };
    field(item.guid.as_deref());
    field(item.url.as_deref());
    field(item.title.as_deref());
    field(item.title_html.as_deref());
    field(item.summary.as_deref());
    field(item.content.as_deref());
    field(item.language.as_deref());
    // People, categories and extras through their JSON: every detail counts.
    field(Some(&to_json(&item.authors)));
    field(Some(&to_json(&item.categories)));
    if !item.extras.is_empty() {
        field(Some(&to_json(&item.extras)));
    }
    for e in &item.enclosures {
        field(Some(&e.url));
    }
    field(item.published.map(|d| d.timestamp().to_string()).as_deref());
    field(item.updated.map(|d| d.timestamp().to_string()).as_deref());
    h.digest() as i64
}

/// A new group id derived from the first item that started it: stable and the same on every
/// daemon that computes it.
pub(crate) fn new_group_id(source: &str, key: &str) -> String {
    let mut h = Xxh3::new();
    h.update(source.as_bytes());
    h.update(&[0]);
    h.update(key.as_bytes());
    format!("st-{:016x}", h.digest())
}

pub(crate) const ITEM_COLUMNS: &str = "i.source, i.item_key, i.guid, i.url, i.link, i.title, b.title_html, b.summary_html, \
     b.content_html, i.authors, i.categories, i.enclosures, i.language, i.extras, i.published, i.updated, i.first_seen, i.exact_id, \
     COALESCE(i.story_id, i.exact_id) AS story_id, i.regions";

/// The tables [`ITEM_COLUMNS`] are read from: an item (`i`) with its body (`b`).
pub(crate) const ITEMS_WITH_BODIES: &str = "items i JOIN item_bodies b ON b.id = i.id";

fn json_list<T: serde::de::DeserializeOwned>(text: Option<String>) -> Vec<T> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub(crate) fn stored_item(row: &AnyRow) -> Result<StoredItem, sqlx::Error> {
    Ok(StoredItem {
        source: row.try_get("source")?,
        key: row.try_get("item_key")?,
        guid: row.try_get("guid")?,
        url: row.try_get("url")?,
        link: row.try_get("link")?,
        title: row.try_get("title")?,
        title_html: row.try_get("title_html")?,
        summary_html: row.try_get("summary_html")?,
        content_html: row.try_get("content_html")?,
        authors: json_list(row.try_get("authors")?),
        categories: json_list(row.try_get("categories")?),
        enclosures: json_list(row.try_get("enclosures")?),
        language: row.try_get("language")?,
        extras: serde_json::from_str(&row.try_get::<String, _>("extras")?).unwrap_or_default(),
        published: row.try_get::<Option<i64>, _>("published")?.map(from_ts),
        updated: row.try_get::<Option<i64>, _>("updated")?.map(from_ts),
        first_seen: from_ts(row.try_get("first_seen")?),
        exact_id: row.try_get("exact_id")?,
        story_id: row.try_get("story_id")?,
        regions: Regions::from_column(&row.try_get::<String, _>("regions")?),
    })
}

/// Settles the store behind `conn` (a new connection) for opening: SQLite's settings, then,
/// unless the store is current, every migration it lacks, in one transaction under the migration
/// lock ([`migrate`]). These are all the writes opening makes, so any number of processes can run this at once.
async fn prepare(conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    if backend == Backend::Sqlite {
        sqlite_settings(conn)
            .await
            .map_err(query_error("setting up the SQLite connection"))?;
    }
    if !migrate::current(conn, migrate::MIGRATIONS).await {
        let mut tx = migrate::begin(conn, backend).await?;
        let applied = migrate::apply(&mut tx, backend, migrate::MIGRATIONS).await?;
        tx.commit().await.map_err(StoreError::Migrations)?;
        if applied > 0 {
            tracing::info!(migrations = applied, "store migrated");
        }
    }
    if backend == Backend::Sqlite {
        incremental_vacuum(conn).await;
    }
    Ok(())
}

/// Converts a SQLite store created before retention to `auto_vacuum = INCREMENTAL`, once, so
/// the pages pruning frees can go back to the file system ([`Store::reclaim`]); a store created
/// since has it from its first table on ([`SQLITE_PRAGMAS`]). The mode of an existing file
/// changes only through a `VACUUM`, which rewrites the file and cannot run inside a
/// transaction, so it cannot share the migrating one: it takes SQLite's write lock itself, the
/// lock the migrations take, for as long as it runs (other processes wait for it up to the busy
/// timeout, as for the migrations). Its temporary copy is kept on disk, not in memory. Two
/// processes opening one old store at the same moment may both run it; the second finds the
/// file converted and only rewrites it. A failure (another process kept the lock too long) is
/// logged and the next open tries again: meanwhile the store works as before, only its file
/// does not shrink.
async fn incremental_vacuum(conn: &mut AnyConnection) {
    /// `PRAGMA auto_vacuum`'s value for INCREMENTAL.
    const INCREMENTAL: i64 = 2;
    let mode = sqlx::query_scalar::<_, i64>("PRAGMA auto_vacuum")
        .fetch_one(&mut *conn)
        .await;
    if matches!(mode, Ok(INCREMENTAL)) {
        return;
    }
    let started = Instant::now();
    let converted = sqlx::raw_sql("PRAGMA temp_store = FILE; PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
        .execute(&mut *conn)
        .await;
    match converted {
        Ok(_) => tracing::info!(
            elapsed = ?started.elapsed(),
            "store converted to incremental vacuum (once), so pruned items give their space back"
        ),
        Err(e) => tracing::warn!(
            error = %crate::run::error_chain(&e),
            "cannot convert the store to incremental vacuum; the next start tries again"
        ),
    }
}

/// Applies [`SQLITE_PRAGMAS`] to `conn`. Switching a new store to WAL takes a lock SQLite's
/// busy timeout does not wait for (a read lock is upgraded), so when another process holds it
/// ("database is locked") this tries again, for as long as the busy timeout would have waited.
async fn sqlite_settings(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + SQLITE_BUSY_WAIT;
    loop {
        match sqlx::raw_sql(SQLITE_PRAGMAS).execute(&mut *conn).await {
            Err(e) if sqlite_busy(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            done => return done.map(drop),
        }
    }
}

/// Whether `e` is SQLite's SQLITE_BUSY ("database is locked", in any of its extended forms).
fn sqlite_busy(e: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    matches!(e, sqlx::Error::Database(d)
        if d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == SQLITE_BUSY))
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url` (`sqlite://…` or `postgres://…`).
    ///
    /// Any number of processes may open one store at once, also one that does not exist yet:
    /// the first to take the migration lock creates and migrates it, the others find it done
    /// (see `store/migrate.rs`). An unreachable database fails at once or within
    /// [`CONNECT_TIMEOUT`], with the driver's cause and the URL without its password
    /// ([`StoreError::Open`], [`StoreError::ConnectTimeout`]).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let sqlite = backend == Backend::Sqlite;
        let open_error = |source| StoreError::Open {
            url: crate::redact::database_url(url),
            source,
        };
        // The first connection directly, not through a pool: a pool retries a refused
        // connection until its acquire timeout and then reports only "pool timed out".
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(url))
            .await
            .map_err(|_| StoreError::ConnectTimeout {
                url: crate::redact::database_url(url),
                after: CONNECT_TIMEOUT,
            })?
            .map_err(open_error)?;
        let prepared = prepare(&mut conn, backend).await;
        // Closing only says goodbye to the server; what matters was committed or rolled back.
        let _ = conn.close().await;
        prepared?;

        let options = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(if sqlite {
                    Duration::from_secs(30)
                } else {
                    POSTGRES_ACQUIRE_TIMEOUT
                })
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if sqlite {
                            sqlite_settings(conn).await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = options(if sqlite { 4 } else { 8 })
            .connect(url)
            .await
            .map_err(open_error)?;
        let writes = if sqlite {
            options(1).connect(url).await.map_err(open_error)?
        } else {
            pool.clone()
        };
        let legacy_ids_before: Option<i64> =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'legacy_ids_before'")
                .fetch_optional(&pool)
                .await
                .map_err(query_error("reading the store's facts"))?;
        Ok(Store {
            pool,
            writes,
            backend,
            write_lock: sqlite.then(|| Arc::new(Mutex::new(()))),
            queue: sqlite.then(|| Arc::new(std::sync::Mutex::new(Vec::new()))),
            legacy_ids_before: legacy_ids_before.unwrap_or(0),
        })
    }

    /// The read pool, for tests that look at rows no store function reads.
    #[cfg(test)]
    pub(crate) fn pool_for_tests(&self) -> AnyPool {
        self.pool.clone()
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.writes.close().await;
        self.pool.close().await;
    }

    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// What the store remembers of a source. If the configured URL changed since, the old
    /// redirect target and validators are forgotten.
    pub async fn source_state(&self, name: &str, configured_url: &str) -> Result<SourceState, StoreError> {
        let what = "reading source state";
        let row = sqlx::query(
            "SELECT url, fetch_url, etag, last_modified, failures, feed_interval, skip_hours, skip_days, gone \
             FROM sources WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error(what))?;
        let Some(row) = row else {
            return Ok(SourceState::default());
        };
        let url: String = row.try_get("url").map_err(query_error(what))?;
        if url != configured_url {
            return Ok(SourceState::default());
        }
        let get = |c: &str| row.try_get::<Option<String>, _>(c).map_err(query_error(what));
        Ok(SourceState {
            fetch_url: get("fetch_url")?,
            validators: Validators {
                etag: get("etag")?,
                last_modified: get("last_modified")?,
            },
            schedule: schedule_of(&row).map_err(query_error(what))?,
        })
    }

    /// What the store remembers of every source's schedule, by name: the URL it was fetched
    /// with, its [`State`] and when it is next due.
    pub async fn schedules(&self) -> Result<HashMap<String, StoredSchedule>, StoreError> {
        let what = "reading source schedules";
        let rows = sqlx::query(
            "SELECT s.name, s.url, s.failures, s.feed_interval, s.skip_hours, s.skip_days, s.gone, l.due_ms \
             FROM sources s LEFT JOIN leases l ON l.source = s.name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_error(what))?;
        rows.iter()
            .map(|row| {
                let due: Option<i64> = row.try_get("due_ms")?;
                Ok((
                    row.try_get("name")?,
                    StoredSchedule {
                        url: row.try_get("url")?,
                        state: schedule_of(row)?,
                        due: due.filter(|&ms| ms > 0).and_then(DateTime::from_timestamp_millis),
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error(what))
    }

    /// Forgets that `name`'s server said it was gone (HTTP 410) and its failures, and makes it
    /// due at once (`feedfold sources revive`). Returns whether the store knew the source.
    pub async fn revive(&self, name: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self
            .writes
            .begin()
            .await
            .map_err(query_error("reviving a source"))?;
        let known = sqlx::query("UPDATE sources SET gone = 0, failures = 0 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_error("reviving a source"))?
            .rows_affected()
            > 0;
        sqlx::query("UPDATE leases SET due_ms = 0 WHERE source = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_error("reviving a source"))?;
        tx.commit().await.map_err(query_error("reviving a source"))?;
        Ok(known)
    }

    /// The change counter of each named source (0 for a source never written), in the order
    /// given: equal counters mean nothing an output of those sources shows has changed.
    pub async fn source_generations(&self, sources: &[&str]) -> Result<Vec<i64>, StoreError> {
        let mut known: HashMap<String, i64> = HashMap::with_capacity(sources.len());
        for chunk in sources.chunks(ingest::BATCH) {
            let sql = format!(
                "SELECT source, generation FROM source_changes WHERE source IN ({})",
                ingest::placeholder_list(chunk.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                query = query.bind(*s);
            }
            for row in query
                .fetch_all(&self.pool)
                .await
                .map_err(query_error("reading change counters"))?
            {
                let source: String = row
                    .try_get("source")
                    .map_err(query_error("reading change counters"))?;
                let generation: i64 = row
                    .try_get("generation")
                    .map_err(query_error("reading change counters"))?;
                known.insert(source, generation);
            }
        }
        Ok(sources
            .iter()
            .map(|s| known.get(*s).copied().unwrap_or(0))
            .collect())
    }

    /// The fingerprint an output's files at `path` (without extension) were last written from.
    pub async fn published_fingerprint(&self, path: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT fingerprint FROM published WHERE path = $1")
            .bind(path)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("reading an output's fingerprint"))
    }

    /// Remembers the fingerprint an output's files at `path` were written from.
    pub async fn set_published_fingerprint(&self, path: &str, fingerprint: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO published (path, fingerprint) VALUES ($1, $2) \
             ON CONFLICT (path) DO UPDATE SET fingerprint = excluded.fingerprint",
        )
        .bind(path)
        .bind(fingerprint)
        .execute(&self.writes)
        .await
        .map_err(query_error("recording an output's fingerprint"))?;
        Ok(())
    }

    /// Every stored item, oldest first (the order of `export`).
    pub async fn all_items(&self) -> Result<Vec<StoredItem>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM {ITEMS_WITH_BODIES} ORDER BY i.first_seen, i.source, i.item_key"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading items"))?;
        rows.iter()
            .map(stored_item)
            .collect::<Result<_, _>>()
            .map_err(query_error("reading items"))
    }

    /// The stored items of the named sources.
    pub async fn items_of(&self, sources: &[&str]) -> Result<Vec<StoredItem>, StoreError> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=sources.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM {ITEMS_WITH_BODIES} WHERE i.source IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in sources {
            query = query.bind(*s);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading items"))?;
        rows.iter()
            .map(stored_item)
            .collect::<Result<_, _>>()
            .map_err(query_error("reading items"))
    }
}

/// Writes the outcome of a fetch for a source, in one statement (see [`Store::record_fetch`]).
pub(crate) async fn write_record(
    conn: &mut AnyConnection,
    name: &str,
    configured_url: &str,
    record: &FetchRecord<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let validators = record.validators;
    let state = &record.schedule;
    sqlx::query(
        "INSERT INTO sources (name, url, fetch_url, etag, last_modified, title, link, last_fetch, last_status, \
         last_error, last_success, failures, feed_interval, skip_hours, skip_days, gone) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $11 THEN $8 END, $13, $14, $15, $16, $17) \
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, \
         fetch_url = COALESCE(excluded.fetch_url, CASE WHEN sources.url = excluded.url THEN sources.fetch_url END), \
         etag = CASE WHEN $12 THEN excluded.etag WHEN sources.url = excluded.url THEN sources.etag END, \
         last_modified = CASE WHEN $12 THEN excluded.last_modified \
         WHEN sources.url = excluded.url THEN sources.last_modified END, \
         title = COALESCE(excluded.title, sources.title), link = COALESCE(excluded.link, sources.link), \
         last_fetch = excluded.last_fetch, last_status = excluded.last_status, last_error = excluded.last_error, \
         last_success = CASE WHEN $11 THEN excluded.last_fetch ELSE sources.last_success END, \
         failures = excluded.failures, feed_interval = excluded.feed_interval, \
         skip_hours = excluded.skip_hours, skip_days = excluded.skip_days, gone = excluded.gone",
    )
    .bind(name)
    .bind(configured_url)
    .bind(record.moved_to)
    .bind(validators.and_then(|v| v.etag.as_deref()))
    .bind(validators.and_then(|v| v.last_modified.as_deref()))
    .bind(record.title)
    .bind(record.link)
    .bind(ts(now))
    .bind(record.status.as_str())
    .bind(record.error)
    .bind(record.status != FetchStatus::Failed)
    .bind(validators.is_some())
    .bind(i64::from(state.failures))
    .bind(state.feed_interval.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
    .bind(i64::from(state.skip.hours))
    .bind(i64::from(state.skip.days))
    .bind(i64::from(state.gone))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A [`State`] from a `sources` row's columns.
fn schedule_of(row: &AnyRow) -> Result<State, sqlx::Error> {
    let feed_interval: Option<i64> = row.try_get("feed_interval")?;
    let int = |c: &str| row.try_get::<i64, _>(c);
    Ok(State {
        failures: u32::try_from(int("failures")?).unwrap_or(u32::MAX),
        feed_interval: feed_interval
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
        skip: Skip {
            hours: u32::try_from(int("skip_hours")?).unwrap_or(0),
            days: u8::try_from(int("skip_days")?).unwrap_or(0),
        },
        gone: int("gone")? != 0,
    })
}

/// Raises the change counters of `sources` (see [`Store::source_generations`]).
pub(crate) async fn bump_generations(
    conn: &mut sqlx::AnyConnection,
    sources: &[&str],
) -> Result<(), sqlx::Error> {
    for chunk in sources.chunks(ingest::BATCH) {
        let rows: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i}, 1)")).collect();
        let sql = format!(
            "INSERT INTO source_changes (source, generation) VALUES {} \
             ON CONFLICT (source) DO UPDATE SET generation = source_changes.generation + 1",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            query = query.bind(*s);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `f` over `items` on every core (scoped threads, one contiguous part each), results in order.
/// For pure CPU work on a batch the store has already read.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 16 {
        return items.iter().map(f).collect();
    }
    let part = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(part)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ingest::{self, ReadyMap, Render};
    use crate::transform::fold::FoldConfig;

    /// Messages name a store's URL without its password, wherever the URL carries one, and
    /// keep everything else.
    /// A SQLite store in `dir` as version 4 left it, migrated by sqlx's migrator as earlier
    /// versions did: its URL and a pool on it.
    async fn version_4_store(dir: &std::path::Path) -> (String, AnyPool) {
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(&url).await.expect("connect");
        migrate::tests::sqlx_migrator(&migrate::MIGRATIONS[..4])
            .run(&pool)
            .await
            .expect("migrations 1-4");
        (url, pool)
    }

    /// Eight stores opened at once on one store from an earlier version (migrated to 4 by
    /// sqlx's migrator, with band keys to rebuild) all open; the store is upgraded once: every
    /// migration recorded once, the item's body moved once, the file converted to incremental
    /// vacuum; the first folding pass then rebuilds its keys.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opens_at_once_upgrade_an_old_store_once() {
        let dir = tempfile::tempdir().expect("dir");
        let (url, pool) = version_4_store(dir.path()).await;
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&pool)
            .await
            .expect("auto_vacuum");
        assert_eq!(mode, 0, "an earlier version's store has no auto vacuum");
        sqlx::query(
            "INSERT INTO items (id, source, item_key, guid, title, summary_html, content_html, authors, categories, \
             enclosures, published, first_seen, last_seen, content_hash, exact_id, story_id, regions, cmp_title, \
             cmp_body) VALUES (7, 'a', 'a1', 'a1', 't', NULL, '<p>body</p>', '[]', '[]', '[]', 1, 1, 1, 1, \
             'st-a1', 'st-a1', '[]', 't', 'a body long enough to have band keys of its own')",
        )
        .execute(&pool)
        .await
        .expect("an item as version 4 stored it");
        sqlx::query("INSERT INTO item_keys (item_id, compared_at, band_keys) VALUES (7, 1, NULL)")
            .execute(&pool)
            .await
            .expect("keys to rebuild");
        pool.close().await;

        let opens: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::open(&url).await })
            })
            .collect();
        let mut stores = Vec::new();
        for open in opens {
            stores.push(open.await.expect("task").expect("every open succeeds"));
        }
        let store = &stores[0];
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&store.pool)
            .await
            .expect("versions");
        let all: Vec<i64> = migrate::MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions, all);
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&store.pool)
            .await
            .expect("auto_vacuum");
        assert_eq!(mode, 2, "the old store was converted to incremental vacuum");
        let bodies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM item_bodies")
            .fetch_one(&store.pool)
            .await
            .expect("bodies");
        assert_eq!(bodies, 1);
        let missing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM item_keys WHERE band_keys IS NULL")
            .fetch_one(&store.pool)
            .await
            .expect("keys");
        assert_eq!(missing, 1, "opening makes no keys");
        crate::pipeline::fold::fold_pending(
            store,
            &crate::transform::fold::FoldConfig::default(),
            &std::collections::HashMap::new(),
            &crate::pipeline::ingest::ReadyMap::default(),
        )
        .await
        .expect("fold");
        let missing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM item_keys WHERE band_keys IS NULL")
            .fetch_one(&store.pool)
            .await
            .expect("keys");
        assert_eq!(missing, 0, "the first folding pass rebuilt the keys");
        for store in &stores {
            store.close().await;
        }
    }

    /// A store written before item bodies had a table of their own keeps its HTML and comparison
    /// text: outputs read the HTML, the body length is the content's, and a new copy of a stored
    /// story is compared against the moved comparison text and joins it.
    #[tokio::test]
    async fn migration_5_moves_bodies_and_keeps_folding() {
        let dir = tempfile::tempdir().expect("dir");
        let (url, pool) = version_4_store(dir.path()).await;
        let body = "1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。省委书记主持会议并讲话。他强调，要从讲政治的高度，紧紧围绕守护人民群众生命安全和身体健康抓好疫情防控。会议要求，工作上不能有丝毫放松，核酸检测、转运管控、隔离救治、生活保障等任何一项工作都必须坚决做到位。";
        let html = format!("<p>{body}</p>");
        let published = 1_641_000_000_i64;
        sqlx::query(
            "INSERT INTO items (id, source, item_key, guid, title, summary_html, content_html, authors, categories, \
             enclosures, published, first_seen, last_seen, content_hash, exact_id, story_id, regions, cmp_title, \
             cmp_body) VALUES (7, 'a', 'a1', 'a1', '西安召开疫情防控会议', '<p>summary</p>', $1, '[]', '[]', '[]', $2, \
             $2, $2, 1, 'st-a1', 'st-a1', '[]', '西安召开疫情防控会议', $3)",
        )
        .bind(&html)
        .bind(published)
        .bind(body)
        .execute(&pool)
        .await
        .expect("an item as version 4 stored it");
        // Its band keys, as the fold pass of version 4 wrote them (rebuilt by the first folding pass when NULL).
        sqlx::query("INSERT INTO item_keys (item_id, compared_at, band_keys) VALUES (7, $1, NULL)")
            .bind(published)
            .execute(&pool)
            .await
            .expect("keys row");
        pool.close().await;

        let store = Store::open(&url).await.expect("open migrates");
        let items = store.items_of(&["a"]).await.expect("items");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].content_html.as_deref(), Some(html.as_str()));
        assert_eq!(items[0].summary_html.as_deref(), Some("<p>summary</p>"));
        let len: i64 = sqlx::query_scalar("SELECT body_len FROM items WHERE id = 7")
            .fetch_one(&store.pool)
            .await
            .expect("body_len");
        assert_eq!(len, html.len() as i64);

        let copy = Item {
            key: "b1".to_string(),
            guid: Some("b1".to_string()),
            title: Some("陕西：抓好疫情防控".to_string()),
            content: Some(html.clone()),
            published: Utc.timestamp_opt(published + 3600, 0).single(),
            ..Item::default()
        };
        let render = |i: &Item| Rendered {
            title_html: None,
            summary_html: None,
            content_html: i.content.clone(),
        };
        let now = Utc.timestamp_opt(published + 7200, 0).single().expect("now");
        let ready = ReadyMap::default();
        ingest::items(&store, &ready, "b", &[copy], now, Arc::new(render))
            .await
            .expect("ingest");
        let report =
            crate::pipeline::fold::fold_pending(&store, &FoldConfig::default(), &HashMap::new(), &ready)
                .await
                .expect("fold");
        assert_eq!(
            (report.items, report.joined),
            (1, 1),
            "the copy joins the migrated story"
        );
        store.close().await;
    }

    /// Upgrading a store records when per-output entry ids began: stories already stored keep
    /// the id every output gave them before, in every output; stories stored after get ids of
    /// their own in each output. A new store has no legacy stories.
    #[tokio::test]
    async fn migration_7_keeps_the_ids_of_stories_already_published() {
        use crate::config::{Dedup, OutputConfig};
        use crate::output::Selection;

        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        sqlx::any::install_default_drivers();
        migrate::tests::migrate_to(&url, &migrate::MIGRATIONS[..6])
            .await
            .expect("migrations 1-6");
        let pool = AnyPool::connect(&url).await.expect("connect");
        let first_seen = 1_641_000_000_i64;
        for (id, key, seen) in [(7, "a1", first_seen - 60), (8, "a2", first_seen)] {
            sqlx::query(
                "INSERT INTO items (id, source, item_key, guid, title, authors, categories, enclosures, \
                 published, first_seen, last_seen, content_hash, exact_id, story_id, regions, body_len) \
                 VALUES ($1, 'a', $2, $2, $2, '[]', '[]', '[]', $3, $3, $3, 1, $4, $4, '[]', 8)",
            )
            .bind(id)
            .bind(key)
            .bind(seen)
            .bind(format!("st-{key}"))
            .execute(&pool)
            .await
            .expect("an item as version 6 stored it");
            sqlx::query("INSERT INTO item_bodies (id, summary_html) VALUES ($1, '<p>x</p>')")
                .bind(id)
                .execute(&pool)
                .await
                .expect("its body");
        }
        pool.close().await;

        let store = Store::open(&url).await.expect("open migrates");
        assert_eq!(store.legacy_ids_before(), first_seen + 1);
        let later = Item {
            key: "b1".to_string(),
            guid: Some("b1".to_string()),
            title: Some("later".to_string()),
            summary: Some("<p>later</p>".to_string()),
            ..Item::default()
        };
        let render = |i: &Item| Rendered {
            title_html: None,
            summary_html: i.summary.clone(),
            content_html: None,
        };
        let now = Utc.timestamp_opt(first_seen + 3600, 0).single().expect("now");
        ingest::items(&store, &ReadyMap::default(), "b", &[later], now, Arc::new(render))
            .await
            .expect("ingest");
        let output = |name: &str| OutputConfig {
            name: name.into(),
            title: name.into(),
            description: None,
            author: name.into(),
            sources: None,
            limit: 10,
            dedup: Dedup::Story,
            regions: Vec::new(),
            exclude_regions: Vec::new(),
            keywords: None,
            token: None,
            keep: None,
        };
        for name in ["all", "local"] {
            let out = output(name);
            let entries = crate::pipeline::publish::entries(&store, &["a", "b"], Selection::of(&out))
                .await
                .expect("entries");
            let mut ids: Vec<(&str, &str)> = entries
                .iter()
                .map(|e| (e.title.as_str(), e.id.as_str()))
                .collect();
            ids.sort();
            let new_story = format!("urn:feedfold:out:{name}:story:{}", new_group_id("b", "b1"));
            assert_eq!(
                ids,
                [
                    ("a1", "urn:feedfold:story:st-a1"),
                    ("a2", "urn:feedfold:story:st-a2"),
                    ("later", new_story.as_str()),
                ],
                "output {name}"
            );
        }
        store.close().await;

        let fresh = format!("sqlite://{}?mode=rwc", dir.path().join("new.db").display());
        let store = Store::open(&fresh).await.expect("open");
        assert_eq!(store.legacy_ids_before(), 0, "a new store has no legacy stories");
        store.close().await;
        let store = Store::open(&url).await.expect("reopen");
        assert_eq!(store.legacy_ids_before(), first_seen + 1, "recorded once");
        store.close().await;
    }

    /// The fold pass stores a story's regions as the JSON text earlier versions wrote, both
    /// read paths (full items, and the light rows that choose an output's entries) read them
    /// typed, and a column that does not parse reads as no regions: in no region's output.
    /// What a fetch says of a source's schedule is kept with its record, read back for its
    /// configured URL only, joined with the time its lease says it is due, and `revive` forgets
    /// that it was gone.
    #[tokio::test]
    async fn schedule_state_is_kept_per_source_and_url() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.db").display()
        ))
        .await
        .expect("open");
        let now = Utc.timestamp_opt(1_700_000_000, 0).single().expect("time");
        let state = State {
            failures: 2,
            feed_interval: Some(Duration::from_secs(7200)),
            skip: Skip {
                hours: 1 << 23,
                days: 1 << 6,
            },
            gone: true,
        };
        let record = FetchRecord {
            status: FetchStatus::Failed,
            error: Some("HTTP 410"),
            validators: None,
            moved_to: None,
            title: None,
            link: None,
            schedule: state,
        };
        let url = "http://a.example/feed";
        store.record_fetch("a", url, &record, now).await.expect("record");
        assert_eq!(store.source_state("a", url).await.expect("state").schedule, state);
        assert_eq!(
            store
                .source_state("a", "http://a.example/new")
                .await
                .expect("state")
                .schedule,
            State::default(),
            "a new URL starts afresh"
        );
        let holder = Holder::new();
        let due = now + chrono::Duration::hours(2);
        store
            .take_leases(&["a"], &holder, Taking::Any, now, Duration::from_secs(60))
            .await
            .expect("take");
        store
            .release_leases(&holder, &[("a", due)])
            .await
            .expect("give back");
        let all = store.schedules().await.expect("schedules");
        assert_eq!(
            all["a"],
            StoredSchedule {
                url: url.to_string(),
                state,
                due: Some(due)
            }
        );
        assert!(store.revive("a").await.expect("revive"));
        let revived = &store.schedules().await.expect("schedules")["a"];
        assert_eq!(
            (revived.state.gone, revived.state.failures, revived.due),
            (false, 0, None)
        );
        assert_eq!(
            revived.state.feed_interval, state.feed_interval,
            "what the feed said stays"
        );
        assert!(!store.revive("never-fetched").await.expect("revive"));
    }

    #[tokio::test]
    async fn regions_column_keeps_its_format() {
        use crate::config::{Dedup, OutputConfig};
        use crate::model::Regions;
        use crate::output::Selection;

        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(&url).await.expect("open");
        let item = |key: &str, title: &str, body: &str| Item {
            key: key.to_string(),
            guid: Some(key.to_string()),
            title: Some(title.to_string()),
            content: Some(format!("<p>{body}</p>")),
            ..Item::default()
        };
        let items = [
            item(
                "a1",
                "西安市雁塔区召开会议",
                "西安市雁塔区今日召开会议，部署工作。",
            ),
            item(
                "a2",
                "西安市碑林区召开会议",
                "西安市碑林区今日召开会议，部署工作。",
            ),
            item("a3", "全国两会召开", "国务院总理作报告。"),
        ];
        let render = |i: &Item| Rendered {
            title_html: None,
            summary_html: None,
            content_html: i.content.clone(),
        };
        let now = Utc.timestamp_opt(1_641_000_000, 0).single().expect("now");
        let ready = ReadyMap::default();
        ingest::items(&store, &ready, "a", &items, now, Arc::new(render))
            .await
            .expect("ingest");
        crate::pipeline::fold::fold_pending(&store, &FoldConfig::default(), &HashMap::new(), &ready)
            .await
            .expect("fold");
        let columns: Vec<(String, String)> =
            sqlx::query_as("SELECT item_key, regions FROM items ORDER BY item_key")
                .fetch_all(&store.pool)
                .await
                .expect("columns");
        // a1's column as the version before typed regions wrote it.
        let yanta = r#"[{"code":"610113","name":"雁塔区","level":"county","score":5.0}]"#;
        assert_eq!(columns[0], ("a1".to_string(), yanta.to_string()));
        assert_eq!(columns[2], ("a3".to_string(), "[]".to_string()));
        let stories: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT story_id) FROM items")
            .fetch_one(&store.pool)
            .await
            .expect("stories");
        assert_eq!(stories, 3, "three stories");
        sqlx::query("UPDATE items SET regions = 'not json' WHERE item_key = 'a2'")
            .execute(&store.pool)
            .await
            .expect("a malformed column");

        let mut stored = store.items_of(&["a"]).await.expect("items");
        stored.sort_by(|a, b| a.key.cmp(&b.key));
        let regions: Vec<&Regions> = stored.iter().map(|i| &i.regions).collect();
        let (shown, none) = (Regions::from_column(yanta), Regions::default());
        assert_eq!(regions, [&shown, &none, &none]);

        let shaanxi = crate::transform::region::Gazetteer::embedded()
            .by_code("610000")
            .expect("陕西");
        let out = OutputConfig {
            name: "shaanxi".into(),
            title: "Shaanxi".into(),
            description: None,
            author: "desk".into(),
            sources: None,
            limit: 10,
            dedup: Dedup::Story,
            regions: vec![shaanxi],
            exclude_regions: Vec::new(),
            keywords: None,
            token: None,
            keep: None,
        };
        let entries = crate::pipeline::publish::entries(&store, &["a"], Selection::of(&out))
            .await
            .expect("entries");
        let got: Vec<(&str, &Regions)> = entries.iter().map(|e| (e.title.as_str(), &e.regions)).collect();
        assert_eq!(got, [("西安市雁塔区召开会议", &shown)]);
        store.close().await;
    }

    /// Writes that wait for the SQLite write lock together (three batches and a fetch's outcome)
    /// are written in one transaction, and one that fails (here a trigger refuses source `bad`)
    /// is rolled back alone: the others of its group are stored and reported stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_batch_does_not_fail_its_group() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(&url).await.expect("open");
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.source = 'bad' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(&store.writes)
        .await
        .expect("trigger");
        let now = Utc.timestamp_opt(1_641_000_000, 0).single().expect("now");
        let render: Render = Arc::new(|i: &Item| Rendered {
            title_html: None,
            summary_html: i.summary.clone(),
            content_html: None,
        });
        let guard = store.write_guard().await;
        let mut writes = Vec::new();
        for source in ["a", "bad", "c"] {
            let items: Vec<Item> = (0..3)
                .map(|n| Item {
                    key: format!("{source}{n}"),
                    title: Some(format!("{source} {n}")),
                    summary: Some(format!("<p>{source} item {n}</p>")),
                    ..Item::default()
                })
                .collect();
            let snapshot = ingest::snapshot(&store, source, &items).await.expect("snapshot");
            let prepared = ingest::prepare(source, items, snapshot, now, None, Arc::clone(&render));
            let (store, ready) = (store.clone(), ReadyMap::default());
            writes.push(tokio::spawn(async move {
                ingest::write(&store, &ready, prepared).await
            }));
        }
        // A fetch's outcome waits in the same queue.
        let recorded = {
            let store = store.clone();
            tokio::spawn(async move {
                let record = FetchRecord {
                    status: FetchStatus::Stored,
                    error: None,
                    validators: None,
                    moved_to: None,
                    title: Some("Source a"),
                    link: None,
                    schedule: State::default(),
                };
                store
                    .record_fetch("a", "http://a.example/feed", &record, now)
                    .await
            })
        };
        // Every write queued while the lock is held: they are written as one group.
        let queue = store.queue.clone().expect("SQLite queues writes");
        while queue.lock().expect("queue").len() < 4 {
            tokio::task::yield_now().await;
        }
        drop(guard);
        let mut results = Vec::new();
        for w in writes {
            results.push(w.await.expect("task"));
        }
        assert_eq!(results[0].as_ref().expect("a stored").new, 3);
        let refused = results[1].as_ref().expect_err("bad refused");
        assert!(format!("{refused:?}").contains("refused"), "{refused:?}");
        assert_eq!(results[2].as_ref().expect("c stored").new, 3);
        recorded.await.expect("task").expect("recorded");
        let title: Option<String> = sqlx::query_scalar("SELECT title FROM sources WHERE name = 'a'")
            .fetch_one(&store.pool)
            .await
            .expect("source row");
        assert_eq!(title.as_deref(), Some("Source a"));
        let stored: Vec<String> = store
            .all_items()
            .await
            .expect("items")
            .into_iter()
            .map(|i| i.source)
            .collect();
        assert_eq!(stored.iter().filter(|s| *s == "a").count(), 3);
        assert_eq!(stored.iter().filter(|s| *s == "c").count(), 3);
        assert!(!stored.iter().any(|s| s == "bad"));
        // Nothing of the refused batch is left: its line counts were rolled back with it.
        let lines = |source: &'static str| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM source_lines WHERE source = $1")
                .bind(source)
                .fetch_one(&store.pool)
        };
        assert!(lines("a").await.expect("lines") > 0);
        assert_eq!(lines("bad").await.expect("lines"), 0);
        store.close().await;
    }
}
