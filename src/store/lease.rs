//! Leases: which process fetches a source, so that several daemons (and `fetch` runs) sharing
//! one database fetch each due source exactly once.
//!
//! In: source names, the taker's [`Holder`] id, what it may take ([`Taking`]), the current time
//! and the lease period. Out: the sources taken; for a source not taken, why ([`Busy`]: another
//! process holds it, or it is not due yet) and until when; on release, the time each source is
//! next due, for every process to see.
//!
//! A lease is taken with one conditional upsert (`INSERT … ON CONFLICT DO UPDATE … WHERE …
//! RETURNING`, the same text on SQLite and PostgreSQL): of several processes asking at once,
//! exactly one gets it. It is given back after the fetch is stored. A process that dies keeps
//! its leases until they expire, then the others take them; a daemon that starts on the same
//! host frees at once the leases of processes there that have exited ([`Store::free_stale_leases`]).
//! Times are the callers' clocks: hosts sharing a database should keep their clocks in sync.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::ingest::{BATCH, placeholder_list};
use super::{Store, StoreError, query_error};

/// A source counts as due this long before the time recorded for it, so the timers of several
/// daemons (and a daemon's own timer, in wall-clock milliseconds) need not agree to the millisecond.
pub const DUE_TOLERANCE: Duration = Duration::from_secs(1);

/// Which sources a process may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taking {
    /// A daemon's schedule: only sources that are due (nobody fetched them lately).
    Due,
    /// A one-shot `fetch`: every source nobody is fetching now.
    Any,
}

/// Why a source's lease was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    /// Another process holds it until `until` (unless it gives it back earlier).
    Held {
        /// The holder's id.
        holder: String,
        /// When the lease expires.
        until: DateTime<Utc>,
    },
    /// Another process fetched it lately: it is next due at `until`.
    NotDue {
        /// When it is due.
        until: DateTime<Utc>,
    },
}

/// A process's id as a lease holder: `host:pid:suffix`. The suffix tells apart the runs of one
/// process id (a restart in a container) and several daemons in one process (tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// A random suffix.
    pub suffix: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.pid, self.suffix)
    }
}

impl Holder {
    /// A new id for this process: its host name, its pid and a random suffix.
    pub fn new() -> Holder {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.update(&nanos.to_le_bytes());
        h.update(&RUNS.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.update(&std::process::id().to_le_bytes());
        Holder {
            host: host_name(),
            pid: std::process::id(),
            suffix: format!("{:08x}", h.digest() as u32),
        }
    }

    /// Reads an id written by [`Holder`]'s `Display`.
    pub fn parse(text: &str) -> Option<Holder> {
        let mut parts = text.rsplitn(3, ':');
        let suffix = parts.next()?.to_string();
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        Some(Holder { host, pid, suffix })
    }

    /// Whether `self`, a holder seen in the store, is a process of this host (`here`'s) that has
    /// exited, by `alive`: its leases will never be given back. Another host's processes, and
    /// this process, are never stale.
    pub fn is_stale(&self, here: &Holder, alive: &dyn Fn(u32) -> bool) -> bool {
        self.host == here.host && self.pid != here.pid && !alive(self.pid)
    }
}

impl Default for Holder {
    fn default() -> Holder {
        Holder::new()
    }
}

/// This host's name (`:` removed, as it separates the parts of a [`Holder`]).
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|n| n.trim().replace(':', "-"))
        .unwrap_or_default();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// Whether process `pid` of this host runs, from `/proc`. Where there is no `/proc`, every
/// process counts as running (its leases then wait for their expiry).
pub fn process_alive(pid: u32) -> bool {
    !std::path::Path::new("/proc/self").exists() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Takes the leases of `sources` for `holder` until `now + lease`: those nobody holds (or
    /// whose lease expired) and, with [`Taking::Due`], that are due. Returns the names taken.
    /// Of several processes asking for one source at once, exactly one gets it.
    pub async fn take_leases(
        &self,
        sources: &[&str],
        holder: &Holder,
        taking: Taking,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        let err = || query_error("taking leases");
        let holder = holder.to_string();
        let due_by = match taking {
            Taking::Due => ms(now).saturating_add(millis(DUE_TOLERANCE)),
            Taking::Any => i64::MAX,
        };
        // Sorted, so two processes taking overlapping lists lock rows in one order.
        let mut sorted: Vec<&str> = sources.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut taken = Vec::with_capacity(sorted.len());
        let _guard = self.write_guard().await;
        for chunk in sorted.chunks(BATCH) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, $1, $2, 0)", i + 5))
                .collect();
            let sql = format!(
                "INSERT INTO leases (source, holder, expires_ms, due_ms) VALUES {} \
                 ON CONFLICT (source) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                 WHERE (leases.holder IS NULL OR leases.expires_ms <= $3) AND leases.due_ms <= $4 \
                 RETURNING source",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(holder.as_str())
                .bind(ms(now).saturating_add(millis(lease)))
                .bind(ms(now))
                .bind(due_by);
            for name in chunk {
                query = query.bind(*name);
            }
            for row in query.fetch_all(&self.writes).await.map_err(err())? {
                taken.push(row.try_get("source").map_err(err())?);
            }
        }
        Ok(taken)
    }

    /// Why `source` cannot be taken at `now` by a daemon's schedule, or None if it can (it was
    /// given back since it was asked for).
    pub async fn busy(&self, source: &str, now: DateTime<Utc>) -> Result<Option<Busy>, StoreError> {
        let err = || query_error("reading a lease");
        let row = sqlx::query("SELECT holder, expires_ms, due_ms FROM leases WHERE source = $1")
            .bind(source)
            .fetch_optional(&self.pool)
            .await
            .map_err(err())?;
        let Some(row) = row else { return Ok(None) };
        let holder: Option<String> = row.try_get("holder").map_err(err())?;
        let expires: i64 = row.try_get("expires_ms").map_err(err())?;
        let due: i64 = row.try_get("due_ms").map_err(err())?;
        Ok(match holder {
            Some(holder) if expires > ms(now) => Some(Busy::Held {
                holder,
                until: from_ms(expires),
            }),
            _ if due > ms(now).saturating_add(millis(DUE_TOLERANCE)) => {
                Some(Busy::NotDue { until: from_ms(due) })
            }
            _ => None,
        })
    }

    /// Gives back `holder`'s leases of the sources in `due`, each with the time it is next due.
    /// A lease another process took meanwhile (after it expired) is left alone.
    pub async fn release_leases(
        &self,
        holder: &Holder,
        due: &[(&str, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let holder = holder.to_string();
        let mut by_due: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (source, at) in due {
            by_due.entry(ms(*at)).or_default().push(source);
        }
        let _guard = self.write_guard().await;
        for (at, sources) in &by_due {
            for chunk in sources.chunks(BATCH) {
                let sql = format!(
                    "UPDATE leases SET holder = NULL, expires_ms = 0, due_ms = $2 \
                     WHERE holder = $1 AND source IN ({})",
                    placeholder_list(chunk.len(), 3)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(holder.as_str())
                    .bind(*at);
                for s in chunk {
                    query = query.bind(*s);
                }
                query
                    .execute(&self.writes)
                    .await
                    .map_err(query_error("giving leases back"))?;
            }
        }
        Ok(())
    }

    /// Frees the leases of processes of this host (`here`'s) that have exited (a daemon killed
    /// and restarted), keeping the times their sources are due. Returns how many were freed.
    pub async fn free_stale_leases(&self, here: &Holder, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let holders: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT holder FROM leases WHERE holder IS NOT NULL AND expires_ms > $1",
        )
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading leases"))?;
        let mut freed = 0;
        for text in holders {
            if !Holder::parse(&text).is_some_and(|h| h.is_stale(here, &process_alive)) {
                continue;
            }
            let _guard = self.write_guard().await;
            let done = sqlx::query("UPDATE leases SET holder = NULL, expires_ms = 0 WHERE holder = $1")
                .bind(&text)
                .execute(&self.writes)
                .await
                .map_err(query_error("freeing leases"))?;
            freed += done.rows_affected() as usize;
        }
        if freed > 0 {
            tracing::info!(
                leases = freed,
                "freed the leases of exited processes of this host"
            );
        }
        Ok(freed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).single().expect("time")
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        Store::open(&url).await.expect("open")
    }

    const LEASE: Duration = Duration::from_secs(60);

    /// `store.take_leases` at `at(secs)` for [`LEASE`].
    async fn take(store: &Store, names: &[&str], holder: &Holder, taking: Taking, secs: i64) -> Vec<String> {
        store
            .take_leases(names, holder, taking, at(secs), LEASE)
            .await
            .expect("take")
    }

    #[test]
    fn holder_ids_round_trip_and_only_exited_local_processes_are_stale() {
        let here = Holder::new();
        assert_eq!(Holder::parse(&here.to_string()), Some(here.clone()));
        assert_ne!(Holder::new(), here, "each run has its own suffix");
        let other = |host: &str, pid: u32| Holder {
            host: host.to_string(),
            pid,
            suffix: "x".to_string(),
        };
        let dead = |_: u32| false;
        let alive = |_: u32| true;
        assert!(other(&here.host, here.pid + 1).is_stale(&here, &dead));
        assert!(!other(&here.host, here.pid + 1).is_stale(&here, &alive));
        assert!(!other("elsewhere", here.pid + 1).is_stale(&here, &dead));
        assert!(
            !other(&here.host, here.pid).is_stale(&here, &dead),
            "this process's other runs are not stale"
        );
        assert_eq!(
            Holder::parse("db-1.example:42:abc"),
            Some(other("db-1.example", 42)).map(|h| Holder {
                suffix: "abc".into(),
                ..h
            })
        );
        assert_eq!(Holder::parse("nonsense"), None);
    }

    #[tokio::test]
    async fn one_taker_per_source_until_given_back_or_expired() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let (a, b) = (Holder::new(), Holder::new());
        let names = ["s1", "s2"];
        let taken = take(&store, &names, &a, Taking::Due, 0).await;
        assert_eq!(taken, vec!["s1".to_string(), "s2".to_string()]);
        assert!(
            take(&store, &names, &b, Taking::Any, 1).await.is_empty(),
            "held: not even a one-shot fetch takes it"
        );
        assert_eq!(
            store.busy("s1", at(1)).await.expect("busy"),
            Some(Busy::Held {
                holder: a.to_string(),
                until: at(60)
            })
        );

        // Given back, s1 is due in 15 minutes: a daemon waits, a one-shot fetch does not.
        store
            .release_leases(&a, &[("s1", at(900))])
            .await
            .expect("release");
        assert!(take(&store, &["s1"], &b, Taking::Due, 2).await.is_empty());
        assert_eq!(
            store.busy("s1", at(2)).await.expect("busy"),
            Some(Busy::NotDue { until: at(900) })
        );
        assert_eq!(
            store
                .take_leases(&["s1", "s2"], &b, Taking::Any, at(70), LEASE)
                .await
                .expect("take"),
            vec!["s1".to_string(), "s2".to_string()],
            "s1 was given back, a's lease of s2 expired"
        );

        // A holder whose lease was taken over gives nothing back.
        store
            .release_leases(&a, &[("s2", at(5000))])
            .await
            .expect("release");
        assert!(matches!(
            store.busy("s2", at(71)).await.expect("busy"),
            Some(Busy::Held { holder, .. }) if holder == b.to_string()
        ));

        // Due within the tolerance: a daemon whose timer fires a little early takes it.
        store
            .release_leases(&b, &[("s1", at(900))])
            .await
            .expect("release");
        assert_eq!(
            take(&store, &["s1"], &a, Taking::Due, 899).await,
            vec!["s1".to_string()]
        );
        store.close().await;
    }

    #[tokio::test]
    async fn leases_of_exited_local_processes_are_freed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let here = Holder::new();
        // A process of this host that cannot be running (pids are below 2^22 on Linux).
        let gone = Holder {
            pid: 4_000_000_000,
            ..Holder::new()
        };
        let remote = Holder {
            host: format!("not-{}", here.host),
            pid: 4_000_000_000,
            ..Holder::new()
        };
        take(&store, &["a"], &gone, Taking::Due, 0).await;
        take(&store, &["b"], &remote, Taking::Due, 0).await;
        assert_eq!(store.free_stale_leases(&here, at(1)).await.expect("free"), 1);
        assert_eq!(
            store
                .take_leases(&["a", "b"], &here, Taking::Due, at(2), LEASE)
                .await
                .expect("take"),
            vec!["a".to_string()]
        );
        store.close().await;
    }
}
