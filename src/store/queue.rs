//! Group commit on SQLite: writes that wait for the write lock together are committed together.
//!
//! In: a fetch's rows ([`Batch`], with its [`Rework`]) or a fetch's outcome for its source, from
//! any number of tasks at once. Out: each write done, in a transaction shared with the writes
//! queued beside it (if one of them fails, each is written again alone, so only that one fails),
//! and its result ([`Written`] for rows) sent back to its task.
//!
//! SQLite writes every page a transaction changed at its commit. A source's items touch about a
//! hundred index pages (item ids, exact keys and body ids are hashes, scattered over their
//! indexes), mostly the same pages the next source's items touch, and a fetch's outcome is a
//! commit of its own: with a transaction each, a cold cycle of benchmark (iv) wrote 380,000
//! pages for a 190 MB store. The first task to get the lock writes every write queued by then;
//! the others find their result waiting. PostgreSQL writes transactions side by side, so there
//! each write has its own (the store has no queue).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use tokio::sync::oneshot;

use super::ingest::{Batch, Rework, Written, write_one};
use super::{FetchRecord, FetchStatus, Store, StoreError, query_error};
use crate::schedule::State;
use crate::source::http::Validators;

/// The writes waiting for the lock.
pub(super) type Queue = Arc<std::sync::Mutex<Vec<Job>>>;

/// A write waiting for the SQLite write lock, and where its result goes.
pub(super) enum Job {
    /// A fetch's items.
    Items {
        batch: Batch,
        rework: Arc<dyn Rework>,
        done: oneshot::Sender<Result<Written, StoreError>>,
    },
    /// A fetch's outcome for its source.
    Fetch {
        record: Record,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Items { batch, .. } => f.debug_tuple("Items").field(&batch.source()).finish(),
            Job::Fetch { record, .. } => f.debug_tuple("Fetch").field(&record.name).finish(),
        }
    }
}

/// A [`FetchRecord`] that owns its text, to wait in the queue.
pub(super) struct Record {
    name: String,
    configured_url: String,
    status: FetchStatus,
    error: Option<String>,
    validators: Option<Validators>,
    moved_to: Option<String>,
    title: Option<String>,
    link: Option<String>,
    schedule: State,
    now: DateTime<Utc>,
}

impl Record {
    fn new(name: &str, configured_url: &str, record: &FetchRecord<'_>, now: DateTime<Utc>) -> Record {
        Record {
            name: name.to_string(),
            configured_url: configured_url.to_string(),
            status: record.status,
            error: record.error.map(String::from),
            validators: record.validators.cloned(),
            moved_to: record.moved_to.map(String::from),
            title: record.title.map(String::from),
            link: record.link.map(String::from),
            schedule: record.schedule,
            now,
        }
    }

    async fn write(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let record = FetchRecord {
            status: self.status,
            error: self.error.as_deref(),
            validators: self.validators.as_ref(),
            moved_to: self.moved_to.as_deref(),
            title: self.title.as_deref(),
            link: self.link.as_deref(),
            schedule: self.schedule,
        };
        super::write_record(conn, &self.name, &self.configured_url, &record, self.now).await
    }
}

/// The answer for a write its task stopped waiting for (the write itself may be done).
fn interrupted() -> StoreError {
    StoreError::Unfinished("the task writing it was stopped before it finished".to_string())
}

impl Store {
    /// Writes a [`Batch`], `rework` being what worked it out (what changed since its snapshot is
    /// worked out again by it). On SQLite it is committed with the writes queued beside it (see
    /// the module documentation).
    pub async fn write(&self, mut batch: Batch, rework: Arc<dyn Rework>) -> Result<Written, StoreError> {
        let Some(queue) = &self.queue else {
            return self.write_alone(&mut batch, &*rework).await;
        };
        let (done, result) = oneshot::channel();
        self.through(queue, Job::Items { batch, rework, done }).await;
        result.await.unwrap_or_else(|_| Err(interrupted()))
    }

    /// Records the outcome of a fetch for a source. If the configured URL changed since the last
    /// fetch, the old redirect target and validators are forgotten (unless this fetch brings new
    /// ones). On SQLite it is committed with the writes queued beside it.
    pub async fn record_fetch(
        &self,
        name: &str,
        configured_url: &str,
        record: &FetchRecord<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(queue) = &self.queue else {
            return super::write_record(
                &mut *self.writes.acquire().await.map_err(recording())?,
                name,
                configured_url,
                record,
                now,
            )
            .await
            .map_err(recording());
        };
        let (done, result) = oneshot::channel();
        let record = Record::new(name, configured_url, record, now);
        self.through(queue, Job::Fetch { record, done }).await;
        result.await.unwrap_or_else(|_| Err(interrupted()))
    }

    /// Queues `job` and takes the write lock: unless the writer before took it, writes it with
    /// every write queued by then.
    async fn through(&self, queue: &Queue, job: Job) {
        queue.lock().unwrap_or_else(|e| e.into_inner()).push(job);
        let _guard = self.write_guard().await;
        let group = std::mem::take(&mut *queue.lock().unwrap_or_else(|e| e.into_inner()));
        if !group.is_empty() {
            self.write_group(group).await;
        }
    }

    /// Writes queued jobs in one transaction and answers each. If one fails, the transaction is
    /// rolled back and each job is written again in a transaction of its own, so the one that
    /// fails fails alone. (Failures are rare; a savepoint per job cost two more statements each.)
    async fn write_group(&self, mut group: Vec<Job>) {
        let started = std::time::Instant::now();
        let writes = group.len();
        let together = async {
            let mut tx = self.writes.begin().await?;
            let mut results = Vec::with_capacity(group.len());
            for job in &mut group {
                results.push(job.write(&mut tx).await?);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(results)
        }
        .await;
        tracing::debug!(writes, together = together.is_ok(), elapsed = ?started.elapsed(), "group of writes committed");
        match together {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    job.answer(Ok(result));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "a write of the group failed: writing each alone");
                for mut job in group {
                    let alone = async {
                        let mut tx = self.writes.begin().await?;
                        let result = job.write(&mut tx).await?;
                        tx.commit().await?;
                        Ok::<_, sqlx::Error>(result)
                    }
                    .await;
                    job.answer(alone);
                }
            }
        }
    }
}

/// What a job wrote.
enum Done {
    Items(Written),
    Fetch,
}

impl Job {
    /// Writes the job inside `tx` (again, if an earlier attempt was rolled back).
    async fn write(&mut self, tx: &mut AnyConnection) -> Result<Done, sqlx::Error> {
        match self {
            Job::Items { batch, rework, .. } => Ok(Done::Items(write_one(tx, batch, &**rework).await?)),
            Job::Fetch { record, .. } => {
                record.write(tx).await?;
                Ok(Done::Fetch)
            }
        }
    }

    /// Sends the job's result to its task (which may have stopped waiting: then nobody is told).
    fn answer(self, result: Result<Done, sqlx::Error>) {
        match self {
            Job::Items { done, .. } => {
                let _ = done.send(match result {
                    Ok(Done::Items(written)) => Ok(written),
                    Ok(Done::Fetch) => unreachable!("an items job writes items"),
                    Err(e) => Err(query_error("storing items")(e)),
                });
            }
            Job::Fetch { done, .. } => {
                let _ = done.send(result.map(|_| ()).map_err(recording()));
            }
        }
    }
}

fn recording() -> impl FnOnce(sqlx::Error) -> StoreError {
    query_error("recording a fetch")
}
