//! Fetching: which sources this process fetches (the one lease path of `fetch` and the daemon),
//! and one source fetched, decoded, parsed, stored and recorded (the one fetch path of both).
//!
//! In: the store and this process's [`Holder`] id ([`Leases`]); to take, source names, what the
//! caller may take ([`Taking::Any`] for a one-shot `fetch`, [`Taking::Due`] for the daemon's
//! schedule), the current time and the lease period; to give back, the time each fetched source
//! is next due. Out: per name, [`Lease::Taken`] (this process fetches it) or
//! [`Lease::Elsewhere`] (who holds it, if anyone, and until when to leave it alone); the leases
//! given back with those due times, for every process sharing the store to see; or the store's
//! error. See [`crate::store::Taking`] for how a lease is taken.
//!
//! In: a source's config, the store, the [`ReadyMap`] of this process, the HTTP client and the
//! current time ([`source`]). Out: a [`SourceReport`]: the source's items stored (new, updated,
//! unchanged; worked out by [`crate::pipeline::ingest`] on the fetching task), not modified, or
//! failed and why ([`SourceError`]); what the server and the feed said about when to fetch
//! again, and the source's schedule [`State`] after it; the outcome and that state recorded in
//! the store either way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Config, FullText, Location, SourceConfig, SourceKind};
use crate::html;
use crate::model::Item;
use crate::pipeline::fulltext::{self, PageCounts};
use crate::pipeline::ingest::{self, ReadyMap, Render};
use crate::schedule::{FeedHints, Hints, Limits, State};
use crate::source::decode::decode;
use crate::source::http::{FetchError, Fetched, Fetcher, Validators};
use crate::source::page;
use crate::source::parse::{ParseError, ParsedFeed, parse_feed_with};
use crate::store::{
    Busy, FetchRecord, FetchStatus, Holder, IngestCounts, SourceState, Store, StoreError, Taking,
};

/// The leases one process takes and gives back.
#[derive(Debug, Clone)]
pub struct Leases {
    store: Store,
    holder: Holder,
}

/// What became of one source asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// This process holds it: it fetches the source, then gives the lease back.
    Taken,
    /// Another process holds it, or (with [`Taking::Due`]) fetched it lately.
    Elsewhere {
        /// The holder's id (`host:pid:suffix`), if one holds it; None when it was fetched
        /// lately, or given back since it was asked for.
        holder: Option<String>,
        /// When to look again: the lease's expiry, the time the source is due, or (given back
        /// meanwhile) the time of asking.
        until: DateTime<Utc>,
    },
}

/// What [`Leases::take`] did, per name asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken(HashMap<String, Lease>);

impl Taken {
    /// What became of `name`; None if it was not asked for.
    pub fn get(&self, name: &str) -> Option<&Lease> {
        self.0.get(name)
    }

    /// Whether this process took `name`.
    pub fn is_taken(&self, name: &str) -> bool {
        self.get(name) == Some(&Lease::Taken)
    }
}

impl Leases {
    /// The leases of `holder` in `store`.
    pub fn new(store: Store, holder: Holder) -> Leases {
        Leases { store, holder }
    }

    /// This process's id as a lease holder.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// Takes the leases of `names` that `taking` allows at `now`, each until `now + lease` (the
    /// period is an argument, not a field: the daemon reads it from its config, which a reload
    /// may change). For each name not taken, asks the store who holds it and until when.
    pub async fn take(
        &self,
        names: &[&str],
        taking: Taking,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Taken, StoreError> {
        let mut out: HashMap<String, Lease> = self
            .store
            .take_leases(names, &self.holder, taking, now, lease)
            .await?
            .into_iter()
            .map(|name| (name, Lease::Taken))
            .collect();
        for name in names {
            if out.contains_key(*name) {
                continue;
            }
            let lease = match self.store.busy(name, now).await? {
                Some(Busy::Held { holder, until }) => Lease::Elsewhere {
                    holder: Some(holder),
                    until,
                },
                Some(Busy::NotDue { until }) => Lease::Elsewhere { holder: None, until },
                // Given back meanwhile: look again now.
                None => Lease::Elsewhere {
                    holder: None,
                    until: now,
                },
            };
            out.insert(name.to_string(), lease);
        }
        Ok(Taken(out))
    }

    /// Gives back this process's leases of the sources in `due`, each with the time it is next
    /// due. A lease another process took meanwhile (after it expired) is left alone.
    pub async fn give_back(&self, due: &[(&str, DateTime<Utc>)]) -> Result<(), StoreError> {
        self.store.release_leases(&self.holder, due).await
    }

    /// Frees the leases of processes of this host that have exited (see
    /// [`Store::free_stale_leases`]). Returns how many were freed.
    pub async fn free_stale(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.store.free_stale_leases(&self.holder, now).await
    }
}

/// Why one source failed in a fetch cycle (reported in its [`Outcome::Failed`], never
/// returned from the cycle).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Fetching failed (the error names the URL).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The body is not a feed feedfold can read.
    #[error("source {name}")]
    Parse {
        /// The source's name.
        name: String,
        /// Why.
        #[source]
        error: ParseError,
    },
    /// A list page (`kind = "page"`) on which `item_selector` found no item with a link.
    #[error(
        "source {name}: the list page has no item `{selector}` finds (item_selector) with a title and a link"
    )]
    EmptyList {
        /// The source's name.
        name: String,
        /// Its `item_selector`.
        selector: String,
    },
    /// Storing its items or its fetch failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SourceError {
    /// The kind of failure, for metrics: a [`FetchError::reason`], `parse` or `store`.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Fetch(e) => e.reason(),
            SourceError::Parse { .. } | SourceError::EmptyList { .. } => "parse",
            SourceError::Store(_) => "store",
        }
    }
}

/// What happened to one source in a fetch cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The feed was fetched, parsed and stored.
    Stored {
        /// How its items were stored.
        counts: IngestCounts,
        /// Whether the XML had to be repaired first.
        repaired: bool,
        /// New address after a permanent redirect.
        moved_to: Option<String>,
        /// Items beyond `[fetch] max_items`, dropped.
        dropped: usize,
    },
    /// The source answered 304 (or the file is unchanged): nothing was parsed.
    NotModified,
    /// The fetch, parse or store step failed.
    Failed {
        /// The error with its causes.
        error: String,
        /// The kind of failure, for metrics: a
        /// [`FetchError::reason`](crate::source::http::FetchError::reason), `parse` or `store`.
        reason: &'static str,
    },
    /// Another process sharing the store (a daemon or another `fetch`) was fetching the source:
    /// this run left it to that one.
    Elsewhere {
        /// That process's lease-holder id (`host:pid:suffix`).
        holder: String,
    },
    /// Not fetched: it is not due yet (its interval, the feed's `<ttl>` or skipped hours, the
    /// server's `Cache-Control` or `Retry-After`, or the backoff after failures says so), and
    /// the run did not force it.
    NotDue {
        /// When it is due.
        until: DateTime<Utc>,
    },
    /// Not fetched: its server answered 410 Gone at this URL, and the run did not force it
    /// (`feedfold sources revive` or a new URL fetches it again).
    Gone,
}

/// The report for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// Source name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub elapsed: Duration,
    /// What the server and the feed said about when to fetch again.
    pub hints: Hints,
    /// The source's schedule state after the fetch (as the store keeps it).
    pub state: State,
    /// Its items' pages fetched for full text, by result.
    pub pages: PageCounts,
}

impl SourceReport {
    /// Whether the source failed.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }

    /// Whether the source was fetched here (not left to another process, not skipped).
    pub fn fetched(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Stored { .. } | Outcome::NotModified | Outcome::Failed { .. }
        )
    }

    /// The report for a source this run did not fetch.
    pub fn skipped(name: &str, outcome: Outcome, state: State) -> SourceReport {
        SourceReport {
            name: name.to_string(),
            outcome,
            elapsed: Duration::ZERO,
            hints: Hints::default(),
            state,
            pages: PageCounts::new(),
        }
    }
}

/// Fetches, decodes, parses and stores one source, recording the result in the store; what the
/// folding pass needs of the items stored is kept in `ready`. Its items' pages (full text) are
/// fetched within `pages`, the process's page limits.
#[tracing::instrument(name = "fetch_source", skip_all, fields(source = %source.name))]
pub async fn source(
    cfg: &Config,
    source: &SourceConfig,
    store: &Store,
    ready: &ReadyMap,
    fetcher: &Fetcher,
    pages: &Limits,
    now: DateTime<Utc>,
) -> SourceReport {
    let started = Instant::now();
    let configured = source.location.key();
    let mut hints = Hints::default();
    let mut page_counts = PageCounts::new();
    let mut before = State::default();
    let result = match store.source_state(&source.name, &configured).await {
        Ok(state) => {
            before = state.schedule;
            fetch_and_store(
                cfg,
                source,
                state,
                (store, ready),
                (fetcher, pages),
                now,
                &configured,
                &mut hints,
                &mut page_counts,
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    let (outcome, state) = match result {
        Ok((outcome, state)) => (outcome, state),
        Err(failure) => {
            if let SourceError::Fetch(fetch) = &failure {
                hints.retry_after = fetch.retry_after();
                hints.gone = fetch.is_gone();
            }
            let (error, reason) = (crate::run::error_chain(&failure), failure.reason());
            tracing::warn!(%error, "source failed");
            let state = before.after(false, &hints);
            let record = FetchRecord {
                status: FetchStatus::Failed,
                error: Some(&error),
                validators: None,
                moved_to: None,
                title: None,
                link: None,
                schedule: state,
            };
            if let Err(e) = store.record_fetch(&source.name, &configured, &record, now).await {
                tracing::error!(error = %crate::run::error_chain(&e), "cannot record failure");
            }
            (Outcome::Failed { error, reason }, state)
        }
    };
    SourceReport {
        name: source.name.clone(),
        outcome,
        elapsed: started.elapsed(),
        hints,
        state,
        pages: page_counts,
    }
}

/// [`source`], but for recording a failure: the outcome and the source's schedule state after
/// it; `page_counts` gets the page fetches (full text) by result.
#[allow(clippy::too_many_arguments)]
async fn fetch_and_store(
    cfg: &Config,
    source: &SourceConfig,
    state: SourceState,
    (store, ready): (&Store, &ReadyMap),
    (fetcher, pages): (&Fetcher, &Limits),
    now: DateTime<Utc>,
    configured: &str,
    hints: &mut Hints,
    page_counts: &mut PageCounts,
) -> Result<(Outcome, State), SourceError> {
    let location = match (state.fetch_url.as_deref().map(Url::parse), &source.location) {
        (Some(Ok(mut moved)), Location::Http(own)) => {
            // Stored without userinfo: the configured URL's goes with it on the same origin.
            if moved.origin() == own.origin() {
                let _ = moved.set_username(own.username());
                let _ = moved.set_password(own.password());
            }
            Location::Http(moved)
        }
        _ => source.location.clone(),
    };
    // Pages that failed and are due again are tried with the items the feed lists: the feed is
    // asked for without its validators, so a 304 does not put the retry off.
    let validators = if source.full_text != FullText::Never && store.pages_due(&source.name, now).await? {
        Validators::default()
    } else {
        state.validators.clone()
    };
    let fetched = match (&source.kind, &location) {
        (SourceKind::Page(_), Location::Http(url)) => {
            fetcher
                .fetch_page(
                    url,
                    Some(url),
                    &validators,
                    cfg.allow_private_of(source),
                    &source.request,
                )
                .await?
        }
        _ => {
            fetcher
                .fetch(
                    &location,
                    &validators,
                    cfg.allow_private_of(source),
                    &source.request,
                )
                .await?
        }
    };
    let (bytes, charset, final_url, moved_to, validators) = match fetched {
        Fetched::NotModified { fresh_for } => {
            hints.fresh_for = fresh_for;
            let schedule = state.schedule.after(true, hints);
            let record = FetchRecord {
                status: FetchStatus::NotModified,
                error: None,
                validators: None,
                moved_to: None,
                title: None,
                link: None,
                schedule,
            };
            store.record_fetch(&source.name, configured, &record, now).await?;
            return Ok((Outcome::NotModified, schedule));
        }
        Fetched::Body {
            bytes,
            charset,
            final_url,
            content_location,
            moved_to,
            validators,
            fresh_for,
        } => {
            hints.fresh_for = fresh_for;
            // Relative URLs in the document resolve against its own address when the server
            // gives one (`Content-Location`), else against where it was fetched from; never
            // with the source's credentials, which no republished link may carry.
            (
                bytes,
                charset,
                content_location
                    .or(final_url)
                    .map(|u| crate::redact::without_userinfo(&u).into_owned()),
                moved_to,
                validators,
            )
        }
    };
    let tz = source.timezone.unwrap_or(cfg.fetch.default_timezone);
    let feed = match &source.kind {
        SourceKind::Feed => {
            let decoded = decode(&bytes, charset.as_deref());
            parse_feed_with(&decoded.text, final_url.as_ref(), tz, cfg.fetch.max_items).map_err(|error| {
                SourceError::Parse {
                    name: source.name.clone(),
                    error,
                }
            })?
        }
        SourceKind::Page(rules) => {
            let page_url = final_url.clone().or_else(|| match &location {
                Location::Http(url) => Some(crate::redact::without_userinfo(url).into_owned()),
                Location::File(_) => None,
            });
            list_page(source, rules, &bytes, charset.as_deref(), page_url, cfg, now).ok_or_else(|| {
                SourceError::EmptyList {
                    name: source.name.clone(),
                    selector: rules.item.as_str().to_string(),
                }
            })?
        }
    };
    drop(bytes);
    if feed.dropped > 0 {
        tracing::warn!(
            dropped = feed.dropped,
            max_items = cfg.fetch.max_items,
            "the feed has more items than [fetch] max_items: the rest were dropped"
        );
    }
    hints.feed = Some(FeedHints {
        interval: feed.update_interval,
        skip: feed.skip,
    });
    let http_base = final_url.filter(html::is_web_url);
    let render: Render = Arc::new(move |item: &Item| ingest::render(item, http_base.as_ref()));
    let snapshot = ingest::snapshot(store, &source.name, &feed.items).await?;
    let ParsedFeed {
        title,
        link,
        mut items,
        repaired,
        dropped,
        ..
    } = feed;
    let own = match &source.location {
        Location::Http(url) => Some(url),
        Location::File(_) => None,
    };
    let dressed = fulltext::dress(
        cfg, source, store, fetcher, pages, own, &mut items, &snapshot, now,
    )
    .await?;
    *page_counts = dressed.counts;
    let prepared =
        ingest::prepare(&source.name, items, snapshot, now, source.region, render).with_pages(dressed.pages);
    let counts = ingest::write(store, ready, prepared).await?;
    let moved = moved_to.map(|u| crate::redact::without_userinfo(&u).to_string());
    let schedule = state.schedule.after(true, hints);
    let record = FetchRecord {
        status: FetchStatus::Stored,
        error: None,
        validators: Some(&validators),
        moved_to: moved.as_deref(),
        title: title.as_deref(),
        link: link.as_deref(),
        schedule,
    };
    store.record_fetch(&source.name, configured, &record, now).await?;
    let outcome = Outcome::Stored {
        counts,
        repaired,
        moved_to: moved,
        dropped,
    };
    Ok((outcome, schedule))
}

/// The items of a list page (`kind = "page"`, read with `rules`), as a feed's are; at most
/// `[fetch] max_items`. None when it has none.
fn list_page(
    source: &SourceConfig,
    rules: &page::ListRules,
    bytes: &[u8],
    charset: Option<&str>,
    page_url: Option<Url>,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Option<ParsedFeed> {
    let page_url = page_url?;
    let tz = source.timezone.unwrap_or(cfg.fetch.default_timezone);
    let mut items = page::list_items(bytes, charset, &page_url, rules, tz, now);
    if items.is_empty() {
        return None;
    }
    let dropped = items.len().saturating_sub(cfg.fetch.max_items);
    items.truncate(cfg.fetch.max_items);
    Some(ParsedFeed {
        title: None,
        link: Some(page_url.to_string()),
        items,
        repaired: false,
        dropped,
        update_interval: None,
        skip: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).single().expect("time")
    }

    const LEASE: Duration = Duration::from_secs(60);

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        Store::open(&url).await.expect("open")
    }

    async fn take(leases: &Leases, names: &[&str], taking: Taking, secs: i64) -> Taken {
        leases.take(names, taking, at(secs), LEASE).await.expect("take")
    }

    #[tokio::test]
    async fn a_source_held_by_one_process_is_elsewhere_for_another() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let a = Leases::new(store.clone(), Holder::new());
        let b = Leases::new(store.clone(), Holder::new());

        let taken = take(&a, &["s1", "s2"], Taking::Any, 0).await;
        assert!(taken.is_taken("s1") && taken.is_taken("s2"));
        assert_eq!(taken.get("s3"), None, "not asked for");

        let held = Lease::Elsewhere {
            holder: Some(a.holder().to_string()),
            until: at(60),
        };
        for taking in [Taking::Any, Taking::Due] {
            let taken = take(&b, &["s1", "s2"], taking, 1).await;
            assert!(!taken.is_taken("s1"), "{taking:?}");
            assert_eq!(taken.get("s1"), Some(&held), "{taking:?}");
            assert_eq!(taken.get("s2"), Some(&held), "{taking:?}");
        }

        // Expired: the other takes it over.
        assert!(take(&b, &["s1"], Taking::Due, 60).await.is_taken("s1"));
        store.close().await;
    }

    #[tokio::test]
    async fn given_back_a_source_waits_for_its_due_time_unless_any_is_taken() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let a = Leases::new(store.clone(), Holder::new());
        let b = Leases::new(store.clone(), Holder::new());

        assert!(take(&a, &["s1"], Taking::Due, 0).await.is_taken("s1"));
        a.give_back(&[("s1", at(900))]).await.expect("give back");

        // A daemon's schedule waits for the due time; it is not held by anyone.
        assert_eq!(
            take(&b, &["s1"], Taking::Due, 10).await.get("s1"),
            Some(&Lease::Elsewhere {
                holder: None,
                until: at(900)
            })
        );
        // After it (or within the tolerance before it), the daemon takes it.
        assert!(take(&b, &["s1"], Taking::Due, 900).await.is_taken("s1"));
        b.give_back(&[("s1", at(1800))]).await.expect("give back");
        assert!(take(&a, &["s1"], Taking::Due, 1799).await.is_taken("s1"));
        a.give_back(&[("s1", at(2700))]).await.expect("give back");

        // A one-shot fetch takes what nobody holds, due or not.
        assert!(take(&b, &["s1"], Taking::Any, 1801).await.is_taken("s1"));
        store.close().await;
    }

    #[tokio::test]
    async fn a_holder_gives_back_only_its_own_leases() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let a = Leases::new(store.clone(), Holder::new());
        let b = Leases::new(store.clone(), Holder::new());

        assert!(take(&a, &["s1"], Taking::Any, 0).await.is_taken("s1"));
        b.give_back(&[("s1", at(900))]).await.expect("give back");
        assert!(matches!(
            take(&b, &["s1"], Taking::Any, 1).await.get("s1"),
            Some(Lease::Elsewhere { holder: Some(h), .. }) if *h == a.holder().to_string()
        ));
        store.close().await;
    }

    #[tokio::test]
    async fn leases_of_an_exited_process_of_this_host_are_freed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        // A process of this host that cannot be running (pids are below 2^22 on Linux).
        let gone = Leases::new(
            store.clone(),
            Holder {
                pid: 4_000_000_000,
                ..Holder::new()
            },
        );
        let here = Leases::new(store.clone(), Holder::new());
        assert!(take(&gone, &["s1"], Taking::Due, 0).await.is_taken("s1"));
        assert_eq!(here.free_stale(at(1)).await.expect("free"), 1);
        assert!(take(&here, &["s1"], Taking::Due, 2).await.is_taken("s1"));
        store.close().await;
    }
}
