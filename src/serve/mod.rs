//! `feedfold serve`: the daemon. It keeps every source fresh on its own schedule, folds what
//! arrives, keeps every output rendered in memory and serves it over HTTP.
//!
//! In: a validated [`Config`] (and its path, to re-read on reload), its [`Role`] (a bound TCP
//! listener for HTTP, or none), and [`Signal`]s (reload, shut down) from the binary. Out: HTTP
//! responses (see [`http`]), store writes, log lines; on shutdown, every fetch under way
//! finished, its lease given back, and the store closed.
//!
//! ```text
//!  schedule::drive ── job per due source ──► take its lease ──► pipeline::fetch::source ──► store
//!        ▲                  (held or fetched elsewhere: Done::Elsewhere)            │ (source changed)
//!  Signal::Reload ─► Config::load ─► Control::Sync                                  ▼
//!                     folder task: fold_pending, render the outputs whose sources changed
//!                     (and every `[server] refresh`: changes other daemons made) │
//!                     and, at most hourly, prune what is older than its keep
//!  http (axum) ◄── Shared { config, outputs (rendered, compressed), ad-hoc cache, metrics }
//! ```
//!
//! Several daemons can share one PostgreSQL store: each source is fetched by the one daemon
//! that takes its lease (see [`crate::store::Taking`]); every daemon serves every output, and
//! renders it again within `[server] refresh` of a change any of them made. `--no-fetch`
//! ([`Role::Web`]) and `--no-http` ([`Role::Worker`]) split serving from fetching.

pub mod http;
pub mod index;
pub mod metrics;
pub mod published;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lru::LruCache;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::{Config, OutputConfig, SourceConfig};
use crate::output::{FeedMeta, Format, Selection, SelfLink};
use crate::pipeline::fetch::{Lease, Leases};
use crate::pipeline::ingest::ReadyMap;
use crate::pipeline::{fold, prune, publish};
use crate::run::{self, Outcome};
use crate::schedule::{self, Control, Done, Limits, Planned, Policy, Remembered, Scheduler, Timer};
use crate::source::http::Fetcher;
use crate::store::{Holder, Store, StoreError, StoredSchedule, Taking};
use metrics::Metrics;
use published::{Effort, Variant};

/// What a daemon does.
#[derive(Debug)]
pub enum Role {
    /// Fetch on schedule and serve HTTP on this listener (`serve`).
    Both(TcpListener),
    /// Serve HTTP only (`serve --no-fetch`): the outputs follow what other daemons store.
    Web(TcpListener),
    /// Fetch, store and fold only (`serve --no-http`).
    Worker,
}

/// What the binary tells a running daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Re-read the config (SIGHUP).
    Reload,
    /// Stop taking work, finish writes, exit (SIGTERM, Ctrl-C).
    Shutdown,
}

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("serve: cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The outputs could not be rendered from the store at start-up.
    #[error("serve: cannot render the outputs")]
    Render(#[from] run::RunError),
    /// The HTTP server failed.
    #[error("serve: the HTTP server failed")]
    Http(#[source] std::io::Error),
}

/// A source's schedule as the index page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// When it is fetched next (None: never, it is dead).
    pub next: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub failures: u32,
    /// The server said 410 Gone.
    pub dead: bool,
}

/// One output rendered in every format, in [`Format::ALL`] order.
///
/// A private output (one with a `token`) is rendered twice, as its self link names the address
/// the reader used ([`SelfLink`]): with `?token=…` for readers who give the token in the query,
/// plain for those who send it in a header. Each rendering is a [`Variant`] of its own, with an
/// ETag from its own bytes; both carry the time of the change, so validators hold per form.
#[derive(Debug)]
pub struct Rendered {
    plain: [Variant; 3],
    with_token: Option<[Variant; 3]>,
    /// What the index page shows of the entries these were rendered from.
    digest: Arc<index::Digest>,
}

impl Rendered {
    /// The rendering in `format` whose self link is `link`.
    fn get(&self, format: Format, link: SelfLink) -> Option<&Variant> {
        let set = match link {
            SelfLink::WithToken => self.with_token.as_ref().unwrap_or(&self.plain),
            SelfLink::Plain => &self.plain,
        };
        set.iter().find(|v| v.format == format)
    }
}

/// What the HTTP handlers, the scheduler's jobs and the folder share.
#[derive(Debug)]
pub struct Shared {
    config: RwLock<Arc<Config>>,
    store: Arc<Store>,
    /// What the folding pass needs of the items this daemon stored and has not folded yet.
    features: ReadyMap,
    fetcher: RwLock<Fetcher>,
    /// Page fetches (full text) under way: `[fetch] full_text_concurrency` in all, `per_host`
    /// per host.
    pages: Limits,
    outputs: RwLock<HashMap<String, Arc<Rendered>>>,
    /// Per output, the change counters of its sources it was rendered from.
    rendered_from: Mutex<HashMap<String, Vec<i64>>>,
    /// Whether outputs are kept rendered (the daemon serves HTTP).
    serving: bool,
    /// Whether the daemon fetches (and so folds what it stores).
    fetching: bool,
    adhoc: Mutex<LruCache<String, Arc<Variant>>>,
    /// Raised each time outputs are re-rendered: an ad-hoc rendering begun before is not cached.
    generation: std::sync::atomic::AtomicU64,
    schedules: Mutex<HashMap<String, Schedule>>,
    metrics: Metrics,
    ready: AtomicBool,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

fn cache_size(entries: usize) -> NonZeroUsize {
    NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN)
}

impl Shared {
    /// The config in effect.
    pub fn config(&self) -> Arc<Config> {
        read(&self.config).clone()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether every output has been rendered once.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// An output's rendering in a format with the self link `link`, if rendered.
    pub fn rendered(&self, name: &str, format: Format, link: SelfLink) -> Option<Variant> {
        let outputs = read(&self.outputs);
        outputs.get(name)?.get(format, link).cloned()
    }

    /// Per rendered output, what the index page shows of it.
    pub fn digests(&self) -> HashMap<String, Arc<index::Digest>> {
        read(&self.outputs)
            .iter()
            .map(|(name, r)| (name.clone(), r.digest.clone()))
            .collect()
    }

    /// Every source's schedule.
    pub fn schedules(&self) -> HashMap<String, Schedule> {
        lock(&self.schedules).clone()
    }

    /// Renders an output with ad-hoc filters, or takes it from the bounded cache. `key` must
    /// name the output, format and filters.
    pub(crate) async fn adhoc<E>(
        &self,
        key: String,
        format: Format,
        render: impl AsyncFnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<Variant>, E> {
        if let Some(hit) = lock(&self.adhoc).get(&key) {
            return Ok(hit.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let bytes = render().await?;
        let variant = Arc::new(Variant::new(format, bytes, Utc::now(), Effort::Fast));
        let mut cache = lock(&self.adhoc);
        if self.generation.load(Ordering::Acquire) == generation {
            cache.put(key, variant.clone());
        }
        Ok(variant)
    }
}

/// Renders into memory the outputs whose sources changed in the store since they were last
/// rendered (every output when `all`, as after a reload), whoever changed them: this daemon,
/// another daemon or a `fetch` run sharing the store. Outputs no longer configured are dropped.
/// The CPU work runs off the async workers. Returns how many outputs were rendered.
async fn render_outputs(shared: &Arc<Shared>, all: bool) -> Result<usize, run::RunError> {
    let config = shared.config();
    let cfg = &*config;
    let now = Utc::now();
    let mut names: Vec<&str> = cfg
        .outputs
        .iter()
        .flat_map(|out| cfg.output_sources(out))
        .collect();
    names.sort_unstable();
    names.dedup();
    let counters: HashMap<&str, i64> = names
        .iter()
        .copied()
        .zip(shared.store.source_generations(&names).await?)
        .collect();
    // Outputs are selected and rendered side by side, as many at once as there are cores.
    let mut stale = Vec::new();
    for out in &cfg.outputs {
        let sources = cfg.output_sources(out);
        let from: Vec<i64> = sources.iter().map(|s| counters[s]).collect();
        if all || lock(&shared.rendered_from).get(&out.name) != Some(&from) {
            stale.push((out, sources, from));
        }
    }
    let parallel = std::thread::available_parallelism().map_or(1, usize::from);
    let mut stale = stale.into_iter();
    let mut running = futures_util::stream::FuturesOrdered::new();
    let mut count = 0;
    loop {
        while running.len() < parallel
            && let Some((out, sources, from)) = stale.next()
        {
            running.push_back(render_output(shared, cfg, out, sources, from, now));
        }
        let Some(done) = running.next().await else {
            break;
        };
        let (out, from, bytes, digest) = done?;
        let mut variants = bytes
            .into_iter()
            .zip(Format::ALL.into_iter().cycle())
            .map(|(bytes, format)| Variant::new(format, bytes, now, Effort::Best));
        let mut set =
            || -> Option<[Variant; 3]> { Some([variants.next()?, variants.next()?, variants.next()?]) };
        let rendered = Rendered {
            plain: set().expect("three formats rendered with the plain link"),
            with_token: set(),
            digest: Arc::new(digest),
        };
        write(&shared.outputs).insert(out.name.clone(), Arc::new(rendered));
        lock(&shared.rendered_from).insert(out.name.clone(), from);
        shared.metrics.rendered();
        count += 1;
    }
    let configured = |name: &String| cfg.outputs.iter().any(|o| &o.name == name);
    write(&shared.outputs).retain(|name, _| configured(name));
    lock(&shared.rendered_from).retain(|name, _| configured(name));
    if count == 0 && !all {
        return Ok(0);
    }
    {
        let mut cache = lock(&shared.adhoc);
        shared.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
    }
    if let Ok(t) = shared.store.totals().await {
        shared.metrics.totals(t.items, t.stories);
    }
    Ok(count)
}

/// One output's bytes for [`render_outputs`]: every format with the plain self link, then, for a
/// private output, with the token; with the change counters it was rendered from and the index
/// page's digest of the same entries.
async fn render_output<'c>(
    shared: &Shared,
    cfg: &Config,
    out: &'c OutputConfig,
    sources: Vec<&str>,
    from: Vec<i64>,
    now: DateTime<Utc>,
) -> Result<(&'c OutputConfig, Vec<i64>, Vec<Vec<u8>>, index::Digest), run::RunError> {
    let links: &[SelfLink] = if out.token.is_some() {
        &[SelfLink::Plain, SelfLink::WithToken]
    } else {
        &[SelfLink::Plain]
    };
    let jobs: Vec<(FeedMeta, Format)> = links
        .iter()
        .flat_map(|link| {
            let meta = FeedMeta::of(out, &cfg.publish.base_url, *link);
            Format::ALL.map(|format| (meta.clone(), format))
        })
        .collect();
    let entries = Arc::new(publish::entries(&shared.store, &sources, Selection::of(out)).await?);
    let bytes = publish::render_entries(&out.name, &entries, jobs, now).await?;
    Ok((out, from, bytes, index::Digest::of(&entries)))
}

/// A change the folder acts on.
#[derive(Debug)]
enum Change {
    /// A source stored new or updated items: fold, and render the outputs whose sources changed.
    Source,
    /// Everything may have changed (reload): fold and render every output.
    All,
}

/// Folds (when fetching) and renders (when serving) after changes, batching changes that arrive
/// close together; when serving, also renders every `[server] refresh` the outputs whose sources
/// others changed. When fetching, prunes what is older than its keep after a folding pass or a
/// quiet spell, at most once per [`prune::EVERY`].
async fn folder(shared: Arc<Shared>, mut changes: mpsc::UnboundedReceiver<Change>) {
    const QUIET: Duration = Duration::from_millis(300);
    const MOST: Duration = Duration::from_secs(5);
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        let wait = if shared.serving {
            shared.config().server.refresh
        } else {
            prune::EVERY
        };
        let first = match tokio::time::timeout(wait, changes.recv()).await {
            Ok(Some(change)) => change,
            Ok(None) => break,
            Err(_) => {
                if shared.serving
                    && let Err(e) = render_outputs(&shared, false).await
                {
                    tracing::error!(error = %run::error_chain(&e), "rendering failed");
                }
                prune_when_due(&shared, &mut pruned_at).await;
                continue;
            }
        };
        let mut all = matches!(first, Change::All);
        let until = tokio::time::Instant::now() + MOST;
        loop {
            let wait = QUIET.min(until.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, changes.recv()).await {
                Ok(Some(c)) => all |= matches!(c, Change::All),
                Ok(None) | Err(_) => break,
            }
        }
        if shared.fetching {
            fold::fold_logged(&shared.store, &shared.config(), &shared.features, "new items").await;
        }
        if shared.serving {
            match render_outputs(&shared, all).await {
                Ok(n) => tracing::debug!(outputs = n, "rendered"),
                Err(e) => tracing::error!(error = %run::error_chain(&e), "rendering failed"),
            }
        }
        prune_when_due(&shared, &mut pruned_at).await;
    }
}

/// Prunes (see [`prune`]) when this daemon fetches and has not pruned within [`prune::EVERY`]
/// (`pruned_at`: when it last did). Only fetching daemons prune: a `--no-fetch` one leaves the
/// store to them.
async fn prune_when_due(shared: &Shared, pruned_at: &mut Option<tokio::time::Instant>) {
    if !shared.fetching || pruned_at.is_some_and(|t| t.elapsed() < prune::EVERY) {
        return;
    }
    *pruned_at = Some(tokio::time::Instant::now());
    prune::prune_logged(&shared.store, &shared.config(), Utc::now()).await;
}

/// What the store remembers of each source's schedule (nothing, if it cannot be read).
async fn remembered(store: &Store) -> HashMap<String, StoredSchedule> {
    store.schedules().await.unwrap_or_else(|e| {
        tracing::warn!(error = %run::error_chain(&e), "cannot read the sources' schedules: every source starts afresh");
        HashMap::new()
    })
}

/// The sources of `cfg` to schedule, each with what the store remembers of it at its
/// configured URL, so a restarted daemon goes on where the last process left off.
fn planned(cfg: &Config, stored: &HashMap<String, StoredSchedule>) -> Vec<Planned> {
    let now = Utc::now();
    Planned::from_config(cfg, &|name, url| {
        stored
            .get(name)
            .filter(|s| s.url == url)
            .map(|s| Remembered {
                state: s.state,
                due_in: s.due.and_then(|due| (due - now).to_std().ok()),
            })
            .unwrap_or_default()
    })
}

fn observe(shared: &Shared, name: &str, t: &Timer) {
    let now = tokio::time::Instant::now();
    let next = (!t.state.gone).then(|| {
        Utc::now() + chrono::Duration::from_std(t.due.saturating_duration_since(now)).unwrap_or_default()
    });
    let mut schedules = lock(&shared.schedules);
    schedules.insert(
        name.to_string(),
        Schedule {
            next,
            failures: t.state.failures,
            dead: t.state.gone,
        },
    );
    shared.metrics.source_failures(name, t.state.failures);
    shared.metrics.dead(schedules.values().filter(|s| s.dead).count());
}

/// Runs the daemon until [`Signal::Shutdown`] (or the signal channel closes): serves HTTP on
/// the listener of its `role`, fetches on schedule (taking each source's lease in the store, so
/// daemons sharing it fetch each source once), reloads `config_path` on [`Signal::Reload`].
pub async fn run(
    config_path: PathBuf,
    cfg: Config,
    role: Role,
    mut signals: mpsc::Receiver<Signal>,
) -> Result<(), ServeError> {
    let (listener, fetching) = match role {
        Role::Both(listener) => (Some(listener), true),
        Role::Web(listener) => (Some(listener), false),
        Role::Worker => (None, true),
    };
    let store = Arc::new(Store::open(&cfg.store.url).await?);
    let fetcher = Fetcher::new(&cfg.fetch).map_err(ServeError::Client)?;
    let limits = Arc::new(Limits::new(cfg.fetch.concurrency, cfg.fetch.per_host));
    let pages = Limits::new(cfg.fetch.full_text_concurrency, cfg.fetch.per_host);
    let leases = Arc::new(Leases::new((*store).clone(), Holder::new()));
    let shared = Arc::new(Shared {
        adhoc: Mutex::new(LruCache::new(cache_size(cfg.server.cache_entries))),
        generation: std::sync::atomic::AtomicU64::new(0),
        config: RwLock::new(Arc::new(cfg)),
        store: store.clone(),
        features: ReadyMap::default(),
        fetcher: RwLock::new(fetcher),
        pages,
        outputs: RwLock::new(HashMap::new()),
        rendered_from: Mutex::new(HashMap::new()),
        serving: listener.is_some(),
        fetching,
        schedules: Mutex::new(HashMap::new()),
        metrics: Metrics::new(),
        ready: AtomicBool::new(false),
    });

    // Items a previous run stored but did not fold (it was killed in between) are folded
    // first, and the leases it held are freed; then what is stored is served at once.
    let cfg = shared.config();
    if fetching {
        if let Err(e) = leases.free_stale(Utc::now()).await {
            tracing::error!(error = %run::error_chain(&e), "cannot free the leases of exited processes");
        }
        fold::fold_logged(
            &store,
            &cfg,
            &shared.features,
            "items a previous run left waiting",
        )
        .await;
    }
    let server = match listener {
        Some(listener) => {
            render_outputs(&shared, true).await?;
            shared.ready.store(true, Ordering::Release);
            let (shutdown_http, http_stopped) = tokio::sync::watch::channel(false);
            let app = http::router(shared.clone());
            let served = tokio::spawn(async move {
                let mut stopped = http_stopped;
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            });
            Some((shutdown_http, served))
        }
        None => None,
    };

    let (change_tx, change_rx) = mpsc::unbounded_channel();
    let folding = tokio::spawn(folder(shared.clone(), change_rx));

    let driver = if fetching {
        let (control, control_rx) = mpsc::channel(8);
        let stored = remembered(&store).await;
        let _ = control
            .send(Control::Sync(
                planned(&cfg, &stored),
                Policy::from_config(&cfg.fetch),
            ))
            .await;
        let job = {
            let shared = shared.clone();
            let leases = leases.clone();
            let change_tx = change_tx.clone();
            move |name: String| {
                let shared = shared.clone();
                let leases = leases.clone();
                let change_tx = change_tx.clone();
                let fetcher = read(&shared.fetcher).clone();
                async move { fetch_job(&shared, &leases, &fetcher, &change_tx, name).await }
            }
        };
        let settle = {
            let leases = leases.clone();
            move |name: String, due: tokio::time::Instant| {
                let leases = leases.clone();
                let wait = due.saturating_duration_since(tokio::time::Instant::now());
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                async move {
                    if let Err(e) = leases.give_back(&[(&name, at)]).await {
                        tracing::warn!(source = %name, error = %run::error_chain(&e), "cannot give the lease back; it will expire");
                    }
                }
            }
        };
        let scheduler = Scheduler::new(Policy::from_config(&cfg.fetch));
        let observer = shared.clone();
        let driven = tokio::spawn(schedule::drive(
            scheduler,
            limits,
            control_rx,
            job,
            settle,
            move |name, t| observe(&observer, name, t),
        ));
        Some((control, driven))
    } else {
        None
    };
    tracing::info!(
        sources = cfg.sources.len(),
        outputs = cfg.outputs.len(),
        holder = %leases.holder(),
        fetching,
        serving = shared.serving,
        "running"
    );

    let control = driver.as_ref().map(|(control, _)| control);
    while let Some(signal) = signals.recv().await {
        match signal {
            Signal::Reload => reload(&config_path, &shared, control, &change_tx).await,
            Signal::Shutdown => break,
        }
    }

    tracing::info!("shutting down: finishing fetches under way");
    if let Some((control, driven)) = driver {
        let _ = control.send(Control::Stop).await;
        let _ = driven.await;
    }
    drop(change_tx);
    let _ = folding.await;
    let served = match server {
        Some((shutdown_http, served)) => {
            let _ = shutdown_http.send(true);
            served.await
        }
        None => Ok(Ok(())),
    };
    store.close().await;
    match served {
        Ok(result) => result.map_err(ServeError::Http),
        Err(e) => Err(ServeError::Http(std::io::Error::other(e.to_string()))),
    }
}

/// One scheduled fetch: takes the source's lease (or reports who has it), fetches and stores it,
/// and tells the folder when something changed. The lease is given back when `drive` settles the
/// fetch, with the time the source is next due.
async fn fetch_job(
    shared: &Shared,
    leases: &Leases,
    fetcher: &Fetcher,
    changes: &mpsc::UnboundedSender<Change>,
    name: String,
) -> Done {
    let cfg = shared.config();
    let Some(source) = cfg.sources.iter().find(|s| s.name == name) else {
        return Done::Fetched {
            ok: true,
            hints: schedule::Hints::default(),
        };
    };
    match take_lease(leases, &name, cfg.fetch.lease).await {
        Ok(None) => {}
        Ok(Some(until)) => return Done::Elsewhere { until },
        Err(e) => {
            tracing::warn!(source = %name, error = %run::error_chain(&e), "cannot take the lease");
            return Done::Fetched {
                ok: false,
                hints: schedule::Hints::default(),
            };
        }
    }
    let report = crate::pipeline::fetch::source(
        &cfg,
        source,
        &shared.store,
        &shared.features,
        fetcher,
        &shared.pages,
        Utc::now(),
    )
    .await;
    let result = match &report.outcome {
        Outcome::Stored { counts, .. } => {
            // Logged once the items are committed: an operator (and the crash
            // test) can count on them being in the store.
            tracing::info!(
                source = %name,
                new = counts.new,
                updated = counts.updated,
                unchanged = counts.unchanged,
                "stored"
            );
            if counts.new + counts.updated > 0 {
                let _ = changes.send(Change::Source);
            }
            "stored"
        }
        Outcome::NotModified => "not_modified",
        Outcome::Failed { reason, .. } => {
            shared.metrics.source_failed(&name, reason);
            "failed"
        }
        // The fetch path never skips a source: these come from a run's choice of sources.
        Outcome::Elsewhere { .. } | Outcome::NotDue { .. } | Outcome::Gone => {
            return Done::Elsewhere {
                until: tokio::time::Instant::now(),
            };
        }
    };
    shared.metrics.fetched(result, report.elapsed);
    shared.metrics.pages_fetched(&report.pages);
    Done::Fetched {
        ok: !report.failed(),
        hints: report.hints,
    }
}

/// Takes a source's lease for a scheduled fetch: None when taken, else when to look again
/// (another daemon holds it, or fetched it lately), on tokio's clock.
async fn take_lease(
    leases: &Leases,
    name: &str,
    lease: Duration,
) -> Result<Option<tokio::time::Instant>, StoreError> {
    let now = Utc::now();
    let taken = leases.take(&[name], Taking::Due, now, lease).await?;
    let Some(Lease::Elsewhere { until, .. }) = taken.get(name) else {
        return Ok(None); // taken
    };
    let wait = (*until - now).to_std().unwrap_or_default();
    Ok(Some(tokio::time::Instant::now() + wait))
}

/// Re-reads the config: a valid one replaces the running one (new sources start, removed ones
/// stop, outputs are re-rendered); an invalid one is refused with all its problems logged.
async fn reload(
    path: &std::path::Path,
    shared: &Arc<Shared>,
    control: Option<&mpsc::Sender<Control>>,
    changes: &mpsc::UnboundedSender<Change>,
) {
    let new = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "reload refused, the running config stays:\n{}",
                run::error_chain(&e)
            );
            return;
        }
    };
    let old = shared.config();
    if new.store.url != old.store.url {
        tracing::warn!("[store] url changed: the daemon keeps its open store until restarted");
    }
    if new.server.listen != old.server.listen {
        tracing::warn!(
            "[server] listen changed: restart the daemon to listen on {}",
            new.server.listen
        );
    }
    if (new.fetch.concurrency, new.fetch.per_host) != (old.fetch.concurrency, old.fetch.per_host) {
        tracing::warn!("[fetch] concurrency and per_host take effect when the daemon restarts");
    }
    match Fetcher::new(&new.fetch) {
        Ok(f) => *write(&shared.fetcher) = f,
        Err(e) => tracing::error!(error = %e, "reload: cannot build the HTTP client; keeping the old one"),
    }
    for removed in old
        .sources
        .iter()
        .filter(|s| !new.sources.iter().any(|n| n.name == s.name))
    {
        shared.metrics.forget_source(&removed.name);
        lock(&shared.schedules).remove(&removed.name);
    }
    lock(&shared.adhoc).resize(cache_size(new.server.cache_entries));
    let stored = remembered(&shared.store).await;
    let plan = planned(&new, &stored);
    let policy = Policy::from_config(&new.fetch);
    tracing::info!(
        sources = new.sources.len(),
        outputs = new.outputs.len(),
        "config reloaded"
    );
    *write(&shared.config) = Arc::new(new);
    if let Some(control) = control {
        let _ = control.send(Control::Sync(plan, policy)).await;
    }
    let _ = changes.send(Change::All);
}

/// The public outputs of a config (those without a token), in config order.
pub fn public_outputs(cfg: &Config) -> impl Iterator<Item = &OutputConfig> {
    cfg.outputs.iter().filter(|o| o.token.is_none())
}

/// The sources a public output can show, in config order: every source of every public output
/// (all sources, for one without a `sources` list; its regions and keywords only narrow which
/// items it shows). The pages anyone may read (the index, `/opml`) list only these: a source
/// that only private outputs (or none) use is left out, since listing it would tell what the
/// private outputs follow.
pub fn public_sources(cfg: &Config) -> impl Iterator<Item = &SourceConfig> {
    let shown: HashSet<&str> = public_outputs(cfg)
        .flat_map(|out| cfg.output_sources(out))
        .collect();
    cfg.sources
        .iter()
        .filter(move |s| shown.contains(s.name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn public_sources_are_those_a_public_output_draws_from() {
        let sources = "[[source]]\nname = \"a\"\nurl = \"http://e.example/a\"\n\
                       [[source]]\nname = \"b\"\nurl = \"http://e.example/b\"\n\
                       [[source]]\nname = \"c\"\nurl = \"http://e.example/c\"\n";
        let secret = "[[output]]\nname = \"s\"\ntitle = \"S\"\nsources = [\"b\"]\n\
                      token = \"0123456789abcdef0123\"\n";
        let names = |outputs: &str| -> Vec<String> {
            let cfg = Config::parse(&format!("{sources}{outputs}"), Path::new("/tmp/x.toml")).expect("valid");
            public_sources(&cfg).map(|s| s.name.clone()).collect()
        };
        let narrow = "[[output]]\nname = \"p\"\ntitle = \"P\"\nsources = [\"a\"]\nregions = [\"陕西\"]\n";
        assert_eq!(names(&format!("{narrow}{secret}")), ["a"]);
        let all = "[[output]]\nname = \"p\"\ntitle = \"P\"\nkeywords = \"x\"\n";
        assert_eq!(names(&format!("{all}{secret}")), ["a", "b", "c"]);
        assert!(names(secret).is_empty());
        assert!(names("").is_empty(), "a source no output shows is not listed");
    }
}
