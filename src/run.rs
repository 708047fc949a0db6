//! The jobs the binary runs, as library functions: one fetch cycle over every source, writing
//! every output, and exporting the store. The work on each source is the pipeline's
//! ([`crate::pipeline::fetch::source`]); this module only runs it for every source.
//!
//! In: a validated [`Config`], an open [`Store`], a [`Fetcher`] and the current time. Out:
//! a [`SourceReport`] per source (new / updated / unchanged / not modified / failed and why, or
//! fetched elsewhere), output files (a token-protected output's only in `[publish] private_dir`,
//! never in the public folder: see [`publish`]), JSON Lines. One failing source never stops the
//! others: its error is recorded in its report and in the store, and the cycle goes on. A fetch
//! cycle takes the lease of every source it fetches, so runs and daemons sharing a store never
//! fetch one source at the same time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::atomic;
use crate::config::{Config, OutputConfig};
use crate::model::OutputRegions;
use crate::output::{FeedMeta, Format, Selection, SelfLink};
use crate::pipeline::fetch::{Lease, Leases};
use crate::pipeline::fold::FoldReport;
use crate::pipeline::ingest::ReadyMap;
use crate::pipeline::publish::{self, RenderError};
use crate::schedule::{Limits, Policy, host_of};
use crate::source::http::Fetcher;
use crate::store::{Holder, Store, StoreError, Taking};

pub use crate::pipeline::fetch::{Outcome, SourceError, SourceReport};

/// A failure of a whole job (not of one source: those are reported per source).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An output could not be selected or rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// An output file could not be written.
    #[error("publish: cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A token-protected output's file in the public folder could not be removed.
    #[error("publish: cannot remove {}, a token-protected output's file in the public folder", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `[publish] private_dir` is the public folder or inside it (as with `fetch --out`).
    #[error(
        "publish: [publish] private_dir {} is inside the public folder {}: private outputs would be served to anyone",
        private.display(),
        public.display()
    )]
    PrivateInPublic {
        /// `[publish] private_dir`.
        private: PathBuf,
        /// The public folder.
        public: PathBuf,
    },
}

/// An error and its causes on one line: `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// What a fetch cycle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// One report per source, in config order.
    pub reports: Vec<SourceReport>,
    /// What the folding pass after the fetches did.
    pub fold: FoldReport,
}

/// Fetches every source that is due once (every source, with [`Taking::Any`]), at most
/// `[fetch] concurrency` at a time, stores what is new, then folds the new items into stories in
/// one pass (so stories do not depend on which source answered first). `on_done` is called as
/// each source finishes (for progress display). A failing source is reported, not returned as an
/// error; a store failure during folding is.
///
/// With [`Taking::Due`] (a plain `fetch`), a source whose server answered 410 Gone is reported
/// [`Outcome::Gone`] and one not due yet [`Outcome::NotDue`]: the store remembers, per source,
/// when it is due (its interval, lengthened by the feed's `<ttl>` / `sy:updatePeriod` and
/// skipped hours or the server's `Cache-Control`; after a failure the backoff or `Retry-After`),
/// by the rules of the daemon's timers ([`Policy::wait`]). [`Taking::Any`] (`fetch --force`)
/// fetches them all.
///
/// It takes (through [`Leases`]) the lease of every source no other process is fetching; the
/// others are reported [`Outcome::Elsewhere`]. The leases are given back before folding, each
/// with the time its source is next due, counted from `now`, so runs from cron at the
/// interval find them due, and daemons sharing the store do not fetch them again right away.
pub async fn fetch_all(
    cfg: &Config,
    store: &Store,
    fetcher: &Fetcher,
    now: DateTime<Utc>,
    taking: Taking,
    on_done: &(dyn Fn(&SourceReport) + Sync),
) -> Result<Cycle, RunError> {
    let every: Vec<&str> = cfg.sources.iter().map(|s| s.name.as_str()).collect();
    fetch_only(cfg, &every, store, fetcher, now, taking, on_done).await
}

/// [`fetch_all`] for the sources named in `only` (`feedfold fetch --source`): only they are
/// fetched and reported, in config order; names no source has are ignored (the binary refuses
/// them first). The folding pass is the same as ever.
pub async fn fetch_only(
    cfg: &Config,
    only: &[&str],
    store: &Store,
    fetcher: &Fetcher,
    now: DateTime<Utc>,
    taking: Taking,
    on_done: &(dyn Fn(&SourceReport) + Sync),
) -> Result<Cycle, RunError> {
    // Each source is a task of its own, so decoding, parsing and sanitising run on every core;
    // the tasks share one copy of the configuration, the store's pool and the HTTP client. Every
    // task starts at once and waits for its slot: `[fetch] concurrency` in all, `per_host` per
    // host (so one slow host cannot hold every slot).
    let started = Instant::now();
    let leases = Leases::new(store.clone(), Holder::new());
    leases.free_stale(now).await?;
    let remembered = store.schedules().await?;
    let state_of = |source: &crate::config::SourceConfig| {
        remembered
            .get(&source.name)
            .filter(|r| r.url == source.location.key())
            .map(|r| r.state)
            .unwrap_or_default()
    };
    let mut reports: Vec<(usize, SourceReport)> = Vec::with_capacity(cfg.sources.len());
    let mut names: Vec<&str> = Vec::with_capacity(cfg.sources.len());
    let chosen: Vec<usize> = (0..cfg.sources.len())
        .filter(|&i| only.contains(&cfg.sources[i].name.as_str()))
        .collect();
    for &i in &chosen {
        let source = &cfg.sources[i];
        let state = state_of(source);
        if state.gone && taking == Taking::Due {
            let report = SourceReport::skipped(&source.name, Outcome::Gone, state);
            on_done(&report);
            reports.push((i, report));
        } else {
            names.push(&source.name);
        }
    }
    let taken = leases.take(&names, taking, now, cfg.fetch.lease).await?;
    let limits = Arc::new(Limits::new(cfg.fetch.concurrency, cfg.fetch.per_host));
    // Pages (full text) have slots of their own: a source holds its feed's slot while its
    // items' pages are fetched, so sharing the feeds' slots could leave every one waiting.
    let pages = Limits::new(cfg.fetch.full_text_concurrency, cfg.fetch.per_host);
    let ready = ReadyMap::default();
    let shared = Arc::new((cfg.clone(), store.clone(), ready.clone(), fetcher.clone(), pages));
    for &i in &chosen {
        let source = &cfg.sources[i];
        let outcome = match taken.get(&source.name) {
            Some(Lease::Elsewhere {
                holder: Some(holder), ..
            }) => Outcome::Elsewhere {
                holder: holder.clone(),
            },
            Some(Lease::Elsewhere { holder: None, until }) if *until > now => {
                Outcome::NotDue { until: *until }
            }
            Some(Lease::Elsewhere { holder: None, .. }) => Outcome::Elsewhere {
                holder: "another process".to_string(),
            },
            Some(Lease::Taken) | None => continue,
        };
        let report = SourceReport::skipped(&source.name, outcome, state_of(source));
        on_done(&report);
        reports.push((i, report));
    }
    let mut done = futures_util::stream::iter(chosen.iter().copied())
        .filter(|i| std::future::ready(taken.is_taken(&cfg.sources[*i].name)))
        .map(|i| {
            let shared = Arc::clone(&shared);
            let limits = Arc::clone(&limits);
            tokio::spawn(async move {
                let (cfg, store, ready, fetcher, pages) = &*shared;
                let source = &cfg.sources[i];
                let _permit = limits.acquire(&host_of(&source.location)).await;
                (
                    i,
                    crate::pipeline::fetch::source(cfg, source, store, ready, fetcher, pages, now).await,
                )
            })
        })
        .buffer_unordered(chosen.len().max(1));
    while let Some(joined) = done.next().await {
        let (i, report) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a fetch task was cancelled: {e}"),
        };
        on_done(&report);
        reports.push((i, report));
    }
    reports.sort_by_key(|(i, _)| *i);
    tracing::debug!(elapsed = ?started.elapsed(), "every source fetched and stored");
    let policy = Policy::from_config(&cfg.fetch);
    let due: Vec<(&str, DateTime<Utc>)> = reports
        .iter()
        .filter(|(_, r)| r.fetched())
        .map(|(i, r)| (r.name.as_str(), next_due(&policy, cfg, *i, r, now)))
        .collect();
    leases.give_back(&due).await?;
    let fold = crate::pipeline::fold::fold(store, cfg, &ready).await?;
    tracing::debug!(elapsed = ?started.elapsed(), items = fold.items, "folded");
    Ok(Cycle {
        reports: reports.into_iter().map(|(_, r)| r).collect(),
        fold,
    })
}

/// When source `i`, fetched at `now` as `report` says, is next due: by [`Policy::wait`], then
/// out of the feed's skipped hours; a gone source is "due" now (it is skipped as gone until
/// revived, and a new URL fetches it at once).
fn next_due(
    policy: &Policy,
    cfg: &Config,
    i: usize,
    report: &SourceReport,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let jitter = crate::schedule::jitter_at(&report.name, report.state.failures, now);
    let wait = policy
        .wait(
            cfg.interval_of(&cfg.sources[i]),
            &report.state,
            &report.hints,
            jitter,
        )
        .map_or(Duration::ZERO, |wait| report.state.skip.delay(now, wait));
    now + chrono::Duration::from_std(wait).unwrap_or_default()
}

/// What [`publish`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Files written into the public folder.
    pub written: Vec<PathBuf>,
    /// Files of token-protected outputs written into `[publish] private_dir`.
    pub written_private: Vec<PathBuf>,
    /// Token-protected outputs not written because no `[publish] private_dir` is set.
    pub skipped: Vec<String>,
    /// Files of token-protected outputs found in the public folder (written there by an earlier
    /// version) and removed, with the output each belonged to.
    pub removed: Vec<(String, PathBuf)>,
}

/// Renders every output in every format as `NAME.rss`, `NAME.atom`, `NAME.json`: a public
/// output into `dir`, a token-protected one into `[publish] private_dir`. Files are replaced
/// atomically (written beside, then renamed).
///
/// **Private outputs.** An output with a `token` is private: the daemon serves it only to
/// requests with the token, while `dir` is meant to be served as it is. So its files never go
/// into `dir`: with no `private_dir` they are not written at all ([`Published::skipped`]), and
/// files of it that an earlier version wrote into `dir` are removed ([`Published::removed`]),
/// as they would keep being served to anyone. `private_dir` is created with mode 0700 and its
/// files written with mode 0600 (on Unix); it may not be `dir` or inside it. A private file's
/// self link is the daemon's address with `?token=…`, the one the daemon gives a reader who
/// puts the token in the query: whoever can read the file can read the feed anyway, and a
/// reader subscribed to the file (or one that follows self links) can move to the daemon
/// without being handed the token again. The file is the secret; keep it so.
///
/// An output whose three files exist and were written from the same state is not written
/// again: the store remembers a fingerprint of what each output was rendered from (its
/// settings, `[publish] base_url`, this program, and the change counters of its sources, which
/// every new or changed item, story or region raises). So a cycle in which nothing changed
/// writes nothing, and one in which a few sources changed writes only their outputs.
pub async fn publish(
    cfg: &Config,
    store: &Store,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<Published, RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let private = match &cfg.publish.private_dir {
        Some(private) if cfg.outputs.iter().any(|o| o.token.is_some()) => {
            Some(private_folder(private, &absolute)?)
        }
        _ => None,
    };
    let program = program_id();
    let mut done = Published::default();
    for out in cfg.outputs.iter().filter(|o| o.token.is_some()) {
        for format in Format::ALL {
            let file = dir.join(format!("{}.{}", out.name, format.extension()));
            let tmp = file.with_extension(format!("{}.tmp", format.extension()));
            for path in [file, tmp] {
                if std::fs::symlink_metadata(&path).is_err() {
                    continue;
                }
                std::fs::remove_file(&path).map_err(|source| RunError::Remove {
                    path: path.clone(),
                    source,
                })?;
                tracing::warn!(output = %out.name, path = %path.display(), "removed a private output's file from the public folder");
                done.removed.push((out.name.clone(), path));
            }
        }
    }
    // Outputs are selected and rendered side by side (each selection on a connection of its
    // own, each rendering on a blocking thread), in config order for what is reported.
    let mut chosen = Vec::new();
    for out in &cfg.outputs {
        let (folder, link) = match (&out.token, &private) {
            (None, _) => (absolute.as_path(), SelfLink::Plain),
            (Some(_), Some(private)) => (private.as_path(), SelfLink::WithToken),
            (Some(_), None) => {
                done.skipped.push(out.name.clone());
                continue;
            }
        };
        chosen.push((out, folder, link));
    }
    let program = &program;
    let parallel = std::thread::available_parallelism().map_or(1, usize::from);
    let mut written = futures_util::stream::iter(chosen)
        .map(|(out, folder, link)| async move {
            let sources = cfg.output_sources(out);
            // Public files keep the folder as given (`--out`), for the paths reported.
            let base = if out.token.is_some() { folder } else { dir };
            let paths: Vec<PathBuf> = Format::ALL
                .iter()
                .map(|format| base.join(format!("{}.{}", out.name, format.extension())))
                .collect();
            let key = folder.join(&out.name).display().to_string();
            let generations = store.source_generations(&sources).await?;
            let fingerprint = output_fingerprint(program, cfg, out, &sources, &generations);
            if paths.iter().all(|p| p.is_file())
                && store.published_fingerprint(&key).await?.as_deref() == Some(fingerprint.as_str())
            {
                return Ok::<_, RunError>(Vec::new());
            }
            let started = Instant::now();
            let meta = FeedMeta::of(out, &cfg.publish.base_url, link);
            let jobs = Format::ALL.map(|format| (meta.clone(), format)).to_vec();
            let rendered = publish::render(store, &out.name, &sources, Selection::of(out), jobs, now).await?;
            let secret = out.token.is_some();
            for (bytes, path) in rendered.iter().zip(&paths) {
                write_atomically(path, bytes, secret)?;
            }
            store.set_published_fingerprint(&key, &fingerprint).await?;
            tracing::debug!(output = %out.name, elapsed = ?started.elapsed(), "output written");
            Ok(paths.into_iter().map(|p| (p, secret)).collect())
        })
        .buffered(parallel);
    while let Some(paths) = written.next().await {
        for (path, secret) in paths? {
            if secret {
                done.written_private.push(path);
            } else {
                done.written.push(path);
            }
        }
    }
    Ok(done)
}

/// Creates `[publish] private_dir` (mode 0700 on Unix) and returns its canonical path, after
/// checking it is not the public folder `public` (canonical) or inside it, as written or
/// through a link.
fn private_folder(private: &Path, public: &Path) -> Result<PathBuf, RunError> {
    let inside = |p: &Path| crate::config::within(p, public);
    let refuse = || RunError::PrivateInPublic {
        private: private.to_path_buf(),
        public: public.to_path_buf(),
    };
    let written = std::path::absolute(private).unwrap_or_else(|_| private.to_path_buf());
    if inside(&written) {
        return Err(refuse());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(private).map_err(|source| RunError::Write {
        path: private.to_path_buf(),
        source,
    })?;
    let real = std::fs::canonicalize(private).map_err(|source| RunError::Write {
        path: private.to_path_buf(),
        source,
    })?;
    if inside(&real) {
        return Err(refuse());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&real).map_or(0, |m| m.permissions().mode());
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %real.display(),
                mode = format!("{:o}", mode & 0o777),
                "[publish] private_dir can be read by other users: consider chmod 700"
            );
        }
    }
    Ok(real)
}

/// This program: its version and when its executable was built, so a rebuilt binary (which may
/// render differently) writes every output again.
fn program_id() -> String {
    let built = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {built}", env!("CARGO_PKG_VERSION"))
}

/// What an output's files depend on, hashed.
fn output_fingerprint(
    program: &str,
    cfg: &Config,
    out: &OutputConfig,
    sources: &[&str],
    generations: &[i64],
) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(program.as_bytes());
    h.update(format!("\0{out:?}\0{}\0", cfg.publish.base_url).as_bytes());
    for (source, generation) in sources.iter().zip(generations) {
        h.update(source.as_bytes());
        h.update(&generation.to_le_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// Replaces an output's file ([`atomic::replace`]); a `private` one gets mode 0600 on Unix.
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), RunError> {
    let mode = if private {
        atomic::Mode::Private
    } else {
        atomic::Mode::Keep
    };
    atomic::replace(path, bytes, mode).map_err(|source| RunError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// One line of `export`.
#[derive(Debug, Serialize)]
pub struct ExportLine<'a> {
    /// GUID / Atom id / JSON Feed id as written, or null.
    pub id: Option<&'a str>,
    /// Item link as written, with credentials masked ([`crate::redact`]).
    pub url: Option<std::borrow::Cow<'a, str>>,
    /// Source name.
    pub source: &'a str,
    /// Plain-text title.
    pub title: Option<&'a str>,
    /// Publication time (RFC 3339).
    pub published: String,
    /// Story id: equal for items folded together.
    pub cluster: &'a str,
    /// Regions, primary first.
    pub regions: OutputRegions<'a>,
}

/// Writes every stored item as JSON Lines.
pub async fn export(store: &Store, out: &mut dyn Write) -> Result<usize, RunError> {
    let items = store.all_items().await?;
    let io = |source| RunError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    };
    for item in &items {
        let line = ExportLine {
            id: item.guid.as_deref(),
            url: item.url.as_deref().map(crate::redact::text),
            source: &item.source,
            title: item.title.as_deref(),
            published: item.date().to_rfc3339(),
            cluster: &item.story_id,
            regions: item.regions.output(),
        };
        serde_json::to_writer(&mut *out, &line).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(items.len())
}
