//! Group commit on SQLite: writes that wait for the write lock together are committed together.
//!
//! In: a fetch's prepared items ([`Batch`]) or a fetch's outcome for its source, from any number
//! of tasks at once. Out: each write done, in a transaction shared with the writes queued beside
//! it (a savepoint each, so one that fails is rolled back alone), and its result sent back to its
//! task.
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
use sqlx::{AnyConnection, Connection};
use tokio::sync::oneshot;

use super::ingest::{Batch, write_one};
use super::{FetchRecord, IngestCounts, Rendered, Store, StoreError, query_error};
use crate::model::Item;
use crate::source::http::Validators;

/// How items are sanitised, shared with whichever task writes the batch (see [`Store::write`]).
pub type Render = Arc<dyn Fn(&Item) -> Rendered + Send + Sync>;

/// The writes waiting for the lock.
pub(super) type Queue = Arc<std::sync::Mutex<Vec<Job>>>;

/// A write waiting for the SQLite write lock, and where its result goes.
pub(super) enum Job {
    /// A fetch's items.
    Items {
        batch: Batch,
        render: Render,
        done: oneshot::Sender<Result<IngestCounts, StoreError>>,
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
    status: String,
    error: Option<String>,
    validators: Option<Validators>,
    moved_to: Option<String>,
    title: Option<String>,
    link: Option<String>,
    now: DateTime<Utc>,
}

impl Record {
    fn new(name: &str, configured_url: &str, record: &FetchRecord<'_>, now: DateTime<Utc>) -> Record {
        Record {
            name: name.to_string(),
            configured_url: configured_url.to_string(),
            status: record.status.to_string(),
            error: record.error.map(String::from),
            validators: record.validators.cloned(),
            moved_to: record.moved_to.map(String::from),
            title: record.title.map(String::from),
            link: record.link.map(String::from),
            now,
        }
    }

    async fn write(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let record = FetchRecord {
            status: &self.status,
            error: self.error.as_deref(),
            validators: self.validators.as_ref(),
            moved_to: self.moved_to.as_deref(),
            title: self.title.as_deref(),
            link: self.link.as_deref(),
        };
        super::write_record(conn, &self.name, &self.configured_url, &record, self.now).await
    }
}

/// The answer for a write its task stopped waiting for (the write itself may be done).
fn interrupted() -> StoreError {
    StoreError::Group("the task writing it was stopped before it finished".to_string())
}

impl Store {
    /// Writes a [`Batch`], `render` being what it was prepared with (what changed since its
    /// snapshot is worked out again with it). On SQLite it is committed with the writes queued
    /// beside it (see the module documentation).
    pub async fn write(&self, batch: Batch, render: Render) -> Result<IngestCounts, StoreError> {
        let Some(queue) = &self.queue else {
            return self.write_alone(batch, &*render).await;
        };
        let (done, result) = oneshot::channel();
        self.through(queue, Job::Items { batch, render, done }).await;
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

    /// Writes queued jobs in one transaction, a savepoint each, and answers each.
    async fn write_group(&self, group: Vec<Job>) {
        let started = std::time::Instant::now();
        let writes = group.len();
        let mut tx = match self.writes.begin().await {
            Ok(tx) => tx,
            Err(e) => return answer_all(group.into_iter().map(Answer::pending), &e.to_string()),
        };
        let mut answers = Vec::with_capacity(writes);
        for job in group {
            // A write that fails is rolled back to its savepoint (dropping it does that).
            answers.push(match job {
                Job::Items { batch, render, done } => {
                    let written = async {
                        let mut savepoint = tx.begin().await?;
                        let counts = write_one(&mut savepoint, batch, &*render).await?;
                        savepoint.commit().await?;
                        Ok::<_, sqlx::Error>(counts)
                    }
                    .await;
                    Answer::Items(done, written.map_err(query_error("storing items")))
                }
                Job::Fetch { record, done } => {
                    let written = async {
                        let mut savepoint = tx.begin().await?;
                        record.write(&mut savepoint).await?;
                        savepoint.commit().await?;
                        Ok::<_, sqlx::Error>(())
                    }
                    .await;
                    Answer::Fetch(done, written.map_err(recording()))
                }
            });
        }
        let committed = tx.commit().await;
        tracing::debug!(writes, elapsed = ?started.elapsed(), "group of writes committed");
        match committed {
            Ok(()) => {
                for answer in answers {
                    answer.send();
                }
            }
            Err(e) => answer_all(answers, &e.to_string()),
        }
    }
}

fn recording() -> impl FnOnce(sqlx::Error) -> StoreError {
    query_error("recording a fetch")
}

/// A write's result, to send once its group is committed.
enum Answer {
    Items(
        oneshot::Sender<Result<IngestCounts, StoreError>>,
        Result<IngestCounts, StoreError>,
    ),
    Fetch(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>),
}

impl Answer {
    /// A job not written yet, answered with an error in place of its result.
    fn pending(job: Job) -> Answer {
        match job {
            Job::Items { done, .. } => Answer::Items(done, Err(interrupted())),
            Job::Fetch { done, .. } => Answer::Fetch(done, Err(interrupted())),
        }
    }

    fn send(self) {
        // A task that stopped waiting has dropped its receiver: nothing to tell it.
        match self {
            Answer::Items(done, result) => {
                let _ = done.send(result);
            }
            Answer::Fetch(done, result) => {
                let _ = done.send(result);
            }
        }
    }
}

/// Answers every write of a group that failed as a whole with `message`.
fn answer_all(answers: impl IntoIterator<Item = Answer>, message: &str) {
    for answer in answers {
        let failed = || StoreError::Group(message.to_string());
        match answer {
            Answer::Items(done, _) => {
                let _ = done.send(Err(failed()));
            }
            Answer::Fetch(done, _) => {
                let _ = done.send(Err(failed()));
            }
        }
    }
}
