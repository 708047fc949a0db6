//! Scheduling: when the daemon fetches each source next, and how many fetches run at once.
//!
//! In: the sources (name, host, interval), the [`Hints`] each fetch brought back (the feed's
//! `<ttl>` or `sy:updatePeriod`, HTTP `Cache-Control` / `Expires`, `Retry-After`, 410 Gone),
//! the current instant and a jitter draw. Out: each source's [`Timer`] (when it is due, how many
//! failures in a row, whether it is dead), the sources due now, and [`Limits`] permits that
//! bound fetches globally and per host.
//!
//! The rules:
//! - after a success a source waits its interval (default `[fetch] interval`), or longer when
//!   the feed or the server asks for longer; such hints are cut to `[fetch] max_interval`, and a
//!   hint never makes a source fetched more often than its interval;
//! - after a failure it waits a capped exponential backoff (from 30 s, doubling, up to
//!   `[fetch] max_backoff`) with jitter, or the server's `Retry-After` if longer. It never gives
//!   up, except on 410 Gone: the source is marked dead and not fetched until its config changes;
//! - new sources are spread over `[fetch] startup_spread` so a thousand do not fire at once, and
//!   a source fetched recently (before a restart) waits out the rest of its interval;
//! - a source another daemon sharing the store holds or fetched lately ([`Done::Elsewhere`]) is
//!   looked at again when that daemon's lease ends or the source falls due; that is not a
//!   failure and does not back off.
//!
//! [`Scheduler`] is pure: the clock and the jitter are passed in. [`drive`] runs it on tokio
//! time with a job per fetch, which tests run on paused time; after each fetch it tells
//! `settle` when the source is due next (the daemon records it in the store with its lease).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use xxhash_rust::xxh3::Xxh3;

use crate::config::{Config, FetchConfig, Location};
pub use crate::model::Skip;

/// The first wait after a failure; it doubles with each failure in a row.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);

/// The shortest wait before a source fetched elsewhere is looked at again.
pub const RECHECK: Duration = Duration::from_secs(1);

/// What one fetch said about when to fetch again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// What the feed said of itself, when a body was read and parsed (None after a 304 or a
    /// failure, which carry no feed).
    pub feed: Option<FeedHints>,
    /// How long the HTTP answer stays fresh (`Cache-Control: max-age`, `Expires`).
    pub fresh_for: Option<Duration>,
    /// `Retry-After` sent with a 429 or 503.
    pub retry_after: Option<Duration>,
    /// The server answered 410 Gone.
    pub gone: bool,
}

/// What a feed says about when to read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedHints {
    /// Its update interval: RSS `<ttl>`, else `sy:updatePeriod` / `sy:updateFrequency`.
    pub interval: Option<Duration>,
    /// The hours and days it asks not to be read in (RSS `<skipHours>`, `<skipDays>`).
    pub skip: Skip,
}

/// What is remembered of a source between fetches: by the daemon's timers, and in the store
/// between runs and restarts (so `fetch` from cron honours it as the daemon does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// Failures in a row.
    pub failures: u32,
    /// The feed's own update interval, remembered across 304s (which carry no feed).
    pub feed_interval: Option<Duration>,
    /// The hours and days the feed asks not to be read in, remembered across 304s.
    pub skip: Skip,
    /// The server answered 410 Gone: not fetched again until `sources revive`, `fetch --force`
    /// or a new URL.
    pub gone: bool,
}

impl State {
    /// The state after a fetch that succeeded (`ok`: stored or not modified) or failed, with
    /// what it said about when to fetch again.
    pub fn after(self, ok: bool, hints: &Hints) -> State {
        if ok {
            State {
                failures: 0,
                feed_interval: hints.feed.map_or(self.feed_interval, |f| f.interval),
                skip: hints.feed.map_or(self.skip, |f| f.skip),
                gone: false,
            }
        } else {
            State {
                failures: self.failures.saturating_add(1),
                gone: hints.gone,
                ..self
            }
        }
    }
}

/// The scheduling settings, from `[fetch]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Longest wait a hint can ask for.
    pub max_interval: Duration,
    /// Longest wait after failures.
    pub max_backoff: Duration,
    /// New sources start within this long.
    pub startup_spread: Duration,
}

impl Policy {
    /// The policy `[fetch]` describes.
    pub fn from_config(fetch: &FetchConfig) -> Policy {
        Policy {
            max_interval: fetch.max_interval,
            max_backoff: fetch.max_backoff,
            startup_spread: fetch.startup_spread,
        }
    }

    /// The wait after a success: the interval, or a longer hint (at most `max_interval`).
    pub fn after_success(
        &self,
        interval: Duration,
        feed_interval: Option<Duration>,
        fresh_for: Option<Duration>,
    ) -> Duration {
        let hint = feed_interval.max(fresh_for).unwrap_or_default();
        interval.max(hint.min(self.max_interval))
    }

    /// The wait after the `failures`-th failure in a row (1 for the first): 30 s doubling up to
    /// `max_backoff`, the upper half of it chosen by `jitter` (0 ≤ jitter < 1), or the server's
    /// `Retry-After` (at most `max_interval`) when that is longer.
    pub fn after_failure(&self, failures: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        let backoff = FIRST_RETRY
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
            .max(Duration::from_secs(1));
        let jittered = backoff.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        jittered.max(retry_after.unwrap_or_default().min(self.max_interval))
    }

    /// How long a source of `interval` waits after a fetch that left it in `state` (see
    /// [`State::after`]), before the feed's skipped hours are taken into account: after a
    /// success [`Policy::after_success`], after a failure [`Policy::after_failure`]; None when
    /// it is gone. The one rule of the daemon's timers and of `fetch` runs.
    pub fn wait(&self, interval: Duration, state: &State, hints: &Hints, jitter: f64) -> Option<Duration> {
        if state.gone {
            None
        } else if state.failures == 0 {
            Some(self.after_success(interval, state.feed_interval, hints.fresh_for))
        } else {
            Some(self.after_failure(state.failures, hints.retry_after, jitter))
        }
    }
}

/// A source as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Source name.
    pub name: String,
    /// The host its fetches count against (`file` for local files).
    pub host: String,
    /// Where it is fetched from: a changed location revives a dead source.
    pub location: String,
    /// Its interval.
    pub interval: Duration,
    /// What the store remembers of it, if anything.
    pub remembered: Remembered,
}

/// What the store remembers of a source's schedule, for a daemon that starts or reloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remembered {
    /// Its state after its last fetch.
    pub state: State,
    /// How long until it is due, as recorded by the last process that fetched it (None: due
    /// now, or never fetched).
    pub due_in: Option<Duration>,
}

impl Planned {
    /// Every source of a config, in config order. `remembered` says what the store remembers
    /// of a source at its configured location (nothing, for a location it does not know).
    pub fn from_config(cfg: &Config, remembered: &dyn Fn(&str, &str) -> Remembered) -> Vec<Planned> {
        cfg.sources
            .iter()
            .map(|s| {
                let location = s.location.key();
                Planned {
                    name: s.name.clone(),
                    host: host_of(&s.location),
                    remembered: remembered(&s.name, &location),
                    location,
                    interval: cfg.interval_of(s),
                }
            })
            .collect()
    }
}

/// The host a location's fetches count against.
pub fn host_of(location: &Location) -> String {
    match location {
        Location::Http(url) => url.host_str().unwrap_or("").to_ascii_lowercase(),
        Location::File(_) => "file".to_string(),
    }
}

/// One source's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// The source's host.
    pub host: String,
    /// Its location, as configured.
    pub location: String,
    /// Its interval.
    pub interval: Duration,
    /// When it is next due.
    pub due: Instant,
    /// Failures in a row, the feed's own interval and skipped hours, and whether it is gone
    /// (HTTP 410: not fetched again until the location changes).
    pub state: State,
    /// A fetch is under way.
    pub running: bool,
    /// The last wait chosen, for display.
    pub last_wait: Duration,
}

/// Every source's timer.
#[derive(Debug, Clone)]
pub struct Scheduler {
    policy: Policy,
    timers: HashMap<String, Timer>,
}

impl Scheduler {
    /// A scheduler with no sources.
    pub fn new(policy: Policy) -> Scheduler {
        Scheduler {
            policy,
            timers: HashMap::new(),
        }
    }

    /// Replaces the policy (on reload).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Makes the scheduled sources those of `sources`: new ones are added, spread over the
    /// start-up window in the order given (or after the rest of their interval if fetched
    /// recently, when the store remembers it is due later); removed ones are dropped (a fetch
    /// under way finishes, its result is ignored); a source whose location changed starts
    /// afresh. Returns (added, removed) names.
    pub fn sync(&mut self, sources: &[Planned], now: Instant) -> (Vec<String>, Vec<String>) {
        let removed: Vec<String> = self
            .timers
            .keys()
            .filter(|name| !sources.iter().any(|s| &s.name == *name))
            .cloned()
            .collect();
        for name in &removed {
            self.timers.remove(name);
        }
        let fresh: Vec<&Planned> = sources
            .iter()
            .filter(|s| self.timers.get(&s.name).is_none_or(|t| t.location != s.location))
            .collect();
        // At most a second apart: a handful of sources all start at once-ish, a thousand
        // spread over the whole window.
        let step = self
            .policy
            .startup_spread
            .checked_div(u32::try_from(fresh.len()).unwrap_or(u32::MAX).max(1))
            .unwrap_or_default()
            .min(Duration::from_secs(1));
        let mut added = Vec::new();
        for (i, s) in fresh.iter().enumerate() {
            let spread = step.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
            let rest = s.remembered.due_in.unwrap_or_default();
            self.timers.insert(
                s.name.clone(),
                Timer {
                    host: s.host.clone(),
                    location: s.location.clone(),
                    interval: s.interval,
                    due: now + spread.max(rest),
                    state: s.remembered.state,
                    running: false,
                    last_wait: Duration::ZERO,
                },
            );
            added.push(s.name.clone());
        }
        for s in sources.iter().filter(|s| !added.contains(&s.name)) {
            if let Some(t) = self.timers.get_mut(&s.name) {
                // A shorter interval takes effect at once; a longer one after the next fetch.
                if s.interval < t.interval {
                    t.due = t.due.min(now + s.interval);
                }
                t.interval = s.interval;
                t.host.clone_from(&s.host);
            }
        }
        (added, removed)
    }

    /// The sources due at `now`, earliest first, marked as running.
    pub fn take_due(&mut self, now: Instant) -> Vec<(String, String)> {
        let mut due: Vec<(&String, &mut Timer)> = self
            .timers
            .iter_mut()
            .filter(|(_, t)| !t.running && !t.state.gone && t.due <= now)
            .collect();
        due.sort_by(|a, b| a.1.due.cmp(&b.1.due).then_with(|| a.0.cmp(b.0)));
        due.into_iter()
            .map(|(name, t)| {
                t.running = true;
                (name.clone(), t.host.clone())
            })
            .collect()
    }

    /// When the next source falls due, if any can.
    pub fn next_due(&self) -> Option<Instant> {
        self.timers
            .values()
            .filter(|t| !t.running && !t.state.gone)
            .map(|t| t.due)
            .min()
    }

    /// Records a finished fetch and schedules the next one ([`State::after`], [`Policy::wait`],
    /// then out of the feed's skipped hours). `ok` is false for a failure; `jitter` is a draw in
    /// [0, 1); `wall` is the wall-clock time at `now` (skipped hours are hours of the day).
    /// Returns the timer, or None if the source was removed meanwhile.
    pub fn finished(
        &mut self,
        name: &str,
        ok: bool,
        hints: &Hints,
        now: Instant,
        wall: DateTime<Utc>,
        jitter: f64,
    ) -> Option<&Timer> {
        let policy = self.policy;
        let t = self.timers.get_mut(name)?;
        t.running = false;
        t.state = t.state.after(ok, hints);
        t.last_wait = policy
            .wait(t.interval, &t.state, hints, jitter)
            .map_or(Duration::ZERO, |wait| t.state.skip.delay(wall, wait));
        t.due = now + t.last_wait;
        Some(t)
    }

    /// Records that a source was not fetched here because another daemon holds it or fetched it
    /// lately: it is looked at again at `until` (at least [`RECHECK`] from `now`), with its
    /// failures and interval as they were. Returns the timer, or None if the source was removed.
    pub fn elsewhere(&mut self, name: &str, until: Instant, now: Instant) -> Option<&Timer> {
        let t = self.timers.get_mut(name)?;
        t.running = false;
        t.due = until.max(now + RECHECK);
        t.last_wait = t.due - now;
        Some(t)
    }

    /// Records what a job reported: [`Scheduler::finished`] or [`Scheduler::elsewhere`].
    pub fn done(
        &mut self,
        name: &str,
        done: &Done,
        now: Instant,
        wall: DateTime<Utc>,
        jitter: f64,
    ) -> Option<&Timer> {
        match done {
            Done::Fetched { ok, hints } => self.finished(name, *ok, hints, now, wall, jitter),
            Done::Elsewhere { until } => self.elsewhere(name, *until, now),
        }
    }

    /// A source's timer.
    pub fn timer(&self, name: &str) -> Option<&Timer> {
        self.timers.get(name)
    }

    /// Every timer, by source name.
    pub fn timers(&self) -> &HashMap<String, Timer> {
        &self.timers
    }
}

/// A jitter draw in [0, 1) from a source name, its failure count and the time: spread enough
/// that sources failing together do not retry together, and repeatable under paused time.
pub fn jitter(name: &str, failures: u32, now: Instant, origin: Instant) -> f64 {
    draw(name, failures, now.saturating_duration_since(origin).as_nanos())
}

/// [`jitter`] for a one-shot run, from the wall-clock time.
pub fn jitter_at(name: &str, failures: u32, now: DateTime<Utc>) -> f64 {
    draw(
        name,
        failures,
        now.timestamp_nanos_opt()
            .unwrap_or_default()
            .unsigned_abs()
            .into(),
    )
}

fn draw(name: &str, failures: u32, nanos: u128) -> f64 {
    let mut h = Xxh3::new();
    h.update(name.as_bytes());
    h.update(&failures.to_le_bytes());
    h.update(&nanos.to_le_bytes());
    (h.digest() >> 11) as f64 / (1u64 << 53) as f64
}

/// Bounds on fetches under way: at most `global` in all, at most `per_host` to one host.
#[derive(Debug)]
pub struct Limits {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Permission to run one fetch; dropping it frees the slots.
#[derive(Debug)]
pub struct Permit {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Limits {
    /// Limits of `global` fetches in all and `per_host` per host.
    pub fn new(global: usize, per_host: usize) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(global.max(1))),
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot for `host` (first its host's, so a busy host does not hold global
    /// slots while it waits), then a global one.
    pub async fn acquire(&self, host: &str) -> Permit {
        let host_semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        let closed = "the limits' semaphores are never closed";
        let host_permit = host_semaphore.acquire_owned().await.expect(closed);
        let global = self.global.clone().acquire_owned().await.expect(closed);
        Permit {
            _host: host_permit,
            _global: global,
        }
    }
}

/// What drives a [`drive`] loop from outside.
#[derive(Debug)]
pub enum Control {
    /// Schedule exactly these sources (on start and on reload), with this policy.
    Sync(Vec<Planned>, Policy),
    /// Stop taking work; fetches under way finish.
    Stop,
}

/// What a job reports back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The source was fetched here.
    Fetched {
        /// The fetch succeeded (stored or not modified).
        ok: bool,
        /// Its hints.
        hints: Hints,
    },
    /// Not fetched here: another daemon holds the source or fetched it lately.
    Elsewhere {
        /// When to look at it again: when that daemon's lease ends, or the source is due.
        until: Instant,
    },
}

/// Runs the scheduler: whenever sources fall due, runs `job(name)` for each under `limits`;
/// records each result; obeys `control`. Returns when told to stop (or the control channel
/// closes) and every fetch under way has finished and been settled. After each fetch made here
/// (not one found [`Done::Elsewhere`]), `settle(name, due)` is run with the time the source is
/// next due (now, if it was removed meanwhile). `observe` sees each timer when added and after
/// each job (for health pages and metrics).
pub async fn drive<J, F, S, G>(
    mut scheduler: Scheduler,
    limits: Arc<Limits>,
    mut control: mpsc::Receiver<Control>,
    job: J,
    settle: S,
    observe: impl Fn(&str, &Timer),
) -> Scheduler
where
    J: Fn(String) -> F,
    F: Future<Output = Done> + Send + 'static,
    S: Fn(String, Instant) -> G,
    G: Future<Output = ()> + Send + 'static,
{
    let origin = Instant::now();
    let mut running: JoinSet<(String, Done)> = JoinSet::new();
    let mut settling: JoinSet<()> = JoinSet::new();
    // Records a job's result; a fetch made here is settled.
    let record = |scheduler: &mut Scheduler,
                  name: String,
                  done: Done,
                  jitter: f64,
                  settling: &mut JoinSet<()>| {
        let now = Instant::now();
        let timer = scheduler.done(&name, &done, now, Utc::now(), jitter);
        if let Done::Fetched { .. } = done {
            if timer.is_some_and(|t| t.state.gone) {
                tracing::error!(source = %name, "the server says the feed is gone (HTTP 410): no longer fetched; remove the source, change its URL or run `feedfold sources revive`");
            }
            settling.spawn(settle(name.clone(), timer.map_or(now, |t| t.due)));
        }
        if let Some(timer) = timer {
            observe(&name, timer);
        }
    };
    loop {
        let wake = scheduler.next_due();
        tokio::select! {
            biased;
            message = control.recv() => match message {
                Some(Control::Sync(sources, policy)) => {
                    scheduler.set_policy(policy);
                    let (added, removed) = scheduler.sync(&sources, Instant::now());
                    if !added.is_empty() || !removed.is_empty() {
                        tracing::info!(added = added.len(), removed = removed.len(), "sources scheduled");
                    }
                    for name in &added {
                        if let Some(timer) = scheduler.timer(name) {
                            observe(name, timer);
                        }
                    }
                }
                Some(Control::Stop) | None => break,
            },
            Some(joined) = running.join_next(), if !running.is_empty() => {
                let Ok((name, done)) = joined else { continue };
                let failures = scheduler.timer(&name).map_or(0, |t| t.state.failures + 1);
                let draw = jitter(&name, failures, Instant::now(), origin);
                record(&mut scheduler, name, done, draw, &mut settling);
            }
            Some(_) = settling.join_next(), if !settling.is_empty() => {}
            () = sleep_until(wake) => {
                for (name, host) in scheduler.take_due(Instant::now()) {
                    let limits = limits.clone();
                    let fetch = job(name.clone());
                    running.spawn(async move {
                        let _permit = limits.acquire(&host).await;
                        (name, fetch.await)
                    });
                }
            }
        }
    }
    while let Some(joined) = running.join_next().await {
        if let Ok((name, done)) = joined {
            record(&mut scheduler, name, done, 0.5, &mut settling);
        }
    }
    while settling.join_next().await.is_some() {}
    scheduler
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn policy() -> Policy {
        Policy {
            max_interval: 24 * 60 * MIN,
            max_backoff: 6 * 60 * MIN,
            startup_spread: MIN,
        }
    }

    fn planned(name: &str, host: &str, interval: Duration) -> Planned {
        Planned {
            name: name.to_string(),
            host: host.to_string(),
            location: format!("http://{host}/{name}"),
            interval,
            remembered: Remembered::default(),
        }
    }

    fn wall(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn feed(interval: Option<Duration>, skip: Skip) -> Hints {
        Hints {
            feed: Some(FeedHints { interval, skip }),
            ..Hints::default()
        }
    }

    #[test]
    fn hints_lengthen_but_never_shorten_the_interval() {
        let p = policy();
        assert_eq!(p.after_success(15 * MIN, None, None), 15 * MIN);
        assert_eq!(p.after_success(15 * MIN, Some(60 * MIN), None), 60 * MIN, "ttl");
        assert_eq!(p.after_success(15 * MIN, Some(5 * MIN), None), 15 * MIN);
        assert_eq!(
            p.after_success(15 * MIN, None, Some(30 * MIN)),
            30 * MIN,
            "max-age"
        );
        assert_eq!(
            p.after_success(15 * MIN, Some(60 * MIN), Some(90 * MIN)),
            90 * MIN
        );
        assert_eq!(
            p.after_success(15 * MIN, Some(365 * 24 * 60 * MIN), None),
            24 * 60 * MIN,
            "a year-long ttl is cut to max_interval"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let p = policy();
        assert_eq!(p.after_failure(1, None, 0.0), Duration::from_secs(15));
        assert_eq!(p.after_failure(1, None, 0.999_999).as_secs(), 29);
        assert_eq!(p.after_failure(2, None, 0.0), Duration::from_secs(30));
        assert_eq!(p.after_failure(3, None, 0.0), Duration::from_secs(60));
        assert_eq!(p.after_failure(30, None, 0.0), 3 * 60 * MIN, "half of the cap");
        assert!(p.after_failure(30, None, 0.99) <= 6 * 60 * MIN);
        assert_eq!(
            p.after_failure(1, Some(10 * MIN), 0.5),
            10 * MIN,
            "Retry-After wins when longer"
        );
        assert_eq!(p.after_failure(1, Some(1000 * 60 * MIN), 0.5), 24 * 60 * MIN);
    }

    #[test]
    fn new_sources_are_spread_and_recent_ones_wait() {
        let now = Instant::now();
        let mut s = Scheduler::new(policy());
        let mut list: Vec<Planned> = (0..4).map(|i| planned(&format!("s{i}"), "h", 15 * MIN)).collect();
        list[3].remembered.due_in = Some(10 * MIN);
        s.sync(&list, now);
        let due = |s: &Scheduler, n: &str| s.timer(n).expect("timer").due - now;
        assert_eq!(due(&s, "s0"), Duration::ZERO);
        assert_eq!(
            due(&s, "s1"),
            Duration::from_secs(1),
            "a few sources start a second apart"
        );
        assert_eq!(due(&s, "s2"), Duration::from_secs(2));
        assert_eq!(due(&s, "s3"), 10 * MIN, "when the store says it is due");
        assert_eq!(s.take_due(now).len(), 1);
        assert_eq!(s.next_due(), Some(now + Duration::from_secs(1)));
        let many: Vec<Planned> = (0..1000)
            .map(|i| planned(&format!("m{i}"), "h", 15 * MIN))
            .collect();
        let mut s = Scheduler::new(policy());
        s.sync(&many, now);
        assert_eq!(s.take_due(now).len(), 1, "a thousand sources do not fire at once");
        assert_eq!(
            s.timer("m999").expect("timer").due - now,
            Duration::from_millis(59_940)
        );
    }

    #[test]
    fn gone_marks_dead_and_a_new_location_revives() {
        let now = Instant::now();
        let mut s = Scheduler::new(policy());
        let list = vec![planned("a", "h", 15 * MIN)];
        s.sync(&list, now);
        s.take_due(now);
        let gone = Hints {
            gone: true,
            ..Hints::default()
        };
        let t = s
            .finished("a", false, &gone, now, Utc::now(), 0.5)
            .expect("known");
        assert!(t.state.gone);
        assert_eq!(s.next_due(), None);
        assert!(s.take_due(now + 48 * 60 * MIN).is_empty());
        let mut moved = list.clone();
        moved[0].location = "http://h/new".to_string();
        s.sync(&moved, now);
        assert!(!s.timer("a").expect("timer").state.gone);
        let (_, removed) = s.sync(&[], now);
        assert_eq!(removed, vec!["a".to_string()]);
        assert!(
            s.finished("a", true, &Hints::default(), now, Utc::now(), 0.5)
                .is_none()
        );
    }

    #[test]
    fn a_304_keeps_the_feed_interval_learnt_before() {
        let now = Instant::now();
        let mut s = Scheduler::new(policy());
        s.sync(&[planned("a", "h", 15 * MIN)], now);
        let ttl = feed(Some(60 * MIN), Skip::default());
        s.take_due(now);
        let t = s.finished("a", true, &ttl, now, Utc::now(), 0.5).expect("known");
        assert_eq!(t.due - now, 60 * MIN);
        let later = now + 60 * MIN;
        s.take_due(later);
        let t = s
            .finished("a", true, &Hints::default(), later, Utc::now(), 0.5)
            .expect("known");
        assert_eq!(t.due - later, 60 * MIN, "a 304 carries no feed");
        s.take_due(later);
        let t = s
            .finished("a", true, &feed(None, Skip::default()), later, Utc::now(), 0.5)
            .expect("known");
        assert_eq!(t.due - later, 15 * MIN, "a feed that dropped its <ttl>");
    }

    #[test]
    fn a_restarted_daemon_starts_from_what_the_store_remembers() {
        let now = Instant::now();
        let mut s = Scheduler::new(policy());
        let mut a = planned("a", "h", 15 * MIN);
        a.remembered = Remembered {
            state: State {
                failures: 3,
                feed_interval: Some(120 * MIN),
                ..State::default()
            },
            due_in: Some(90 * MIN),
        };
        let mut dead = planned("dead", "h", 15 * MIN);
        dead.remembered.state.gone = true;
        s.sync(&[a, dead], now);
        assert_eq!(
            s.timer("a").expect("timer").due - now,
            90 * MIN,
            "not at start-up"
        );
        assert_eq!(s.next_due(), Some(now + 90 * MIN), "a gone source is never due");
        assert!(s.take_due(now + 90 * MIN).iter().all(|(n, _)| n == "a"));
        let t = s
            .finished("a", false, &Hints::default(), now, Utc::now(), 0.0)
            .expect("known");
        assert_eq!(t.state.failures, 4, "failures in a row go on counting");
        assert_eq!(t.due - now, 2 * MIN, "the fourth failure's backoff");
        s.take_due(now + 90 * MIN);
        let t = s
            .finished("a", true, &Hints::default(), now, Utc::now(), 0.0)
            .expect("known");
        assert_eq!(t.due - now, 120 * MIN, "the <ttl> remembered across the restart");
    }

    #[test]
    fn state_after_a_fetch() {
        let start = State::default();
        let gone = Hints {
            gone: true,
            ..Hints::default()
        };
        let failed = start.after(false, &Hints::default()).after(false, &gone);
        assert_eq!((failed.failures, failed.gone), (2, true));
        let skip = Skip { hours: 1, days: 0 };
        let ok = failed.after(true, &feed(Some(MIN), skip));
        assert_eq!(
            ok,
            State {
                failures: 0,
                feed_interval: Some(MIN),
                skip,
                gone: false
            }
        );
        assert_eq!(
            ok.after(true, &Hints::default()),
            ok,
            "a 304 keeps what the feed said"
        );
        let p = policy();
        assert_eq!(p.wait(15 * MIN, &failed, &gone, 0.0), None, "gone");
        assert_eq!(p.wait(15 * MIN, &ok, &Hints::default(), 0.0), Some(15 * MIN));
        let retry = Hints {
            retry_after: Some(120 * MIN),
            ..Hints::default()
        };
        let once = start.after(false, &retry);
        assert_eq!(
            p.wait(15 * MIN, &once, &retry, 0.0),
            Some(120 * MIN),
            "Retry-After"
        );
    }

    #[test]
    fn skipped_hours_and_days_push_the_next_fetch_out() {
        // 2024-05-01 was a Wednesday.
        let t = wall("2024-05-01T10:50:00Z");
        let none = Skip::default();
        assert_eq!(none.next_allowed(t), t);
        let eleven = Skip {
            hours: 1 << 11,
            days: 0,
        };
        assert_eq!(eleven.next_allowed(t), t, "10:50 is not skipped");
        assert_eq!(eleven.delay(t, 15 * MIN), 70 * MIN, "11:05 is: wait until 12:00");
        let nights = Skip {
            hours: (0..6).map(|h| 1 << h).sum(),
            days: 0,
        };
        assert_eq!(
            nights.next_allowed(wall("2024-05-01T23:30:00Z") + chrono::Duration::hours(1)),
            wall("2024-05-02T06:00:00Z")
        );
        let weekend = Skip {
            hours: 0,
            days: (1 << 5) | (1 << 6),
        };
        assert_eq!(
            weekend.next_allowed(wall("2024-05-04T09:00:00Z")),
            wall("2024-05-06T00:00:00Z"),
            "Saturday to Monday"
        );
        let every_hour = Skip {
            hours: (1 << 24) - 1,
            days: 0,
        };
        assert!(
            every_hour.is_empty(),
            "a feed that skips every hour skips nothing"
        );
        assert_eq!(every_hour.next_allowed(t), t);
        let mut s = Scheduler::new(policy());
        let now = Instant::now();
        s.sync(&[planned("a", "h", 15 * MIN)], now);
        s.take_due(now);
        let timer = s
            .finished("a", true, &feed(None, eleven), now, t, 0.5)
            .expect("known");
        assert_eq!(timer.due - now, 70 * MIN, "the daemon's timers honour it");
    }

    /// What [`simulate`] saw.
    struct Simulated {
        /// Each source's job start times (seconds since start).
        starts: HashMap<String, Vec<u64>>,
        /// The most jobs seen at once per host (`*`: in all).
        most: HashMap<String, usize>,
        /// Each source's settled due times (seconds since start), in order.
        settled: HashMap<String, Vec<u64>>,
    }

    type Log = Arc<Mutex<(HashMap<String, Vec<u64>>, HashMap<String, (usize, usize)>)>>;

    /// Runs `drive` on paused time over `sources`, with `script(name, n)` giving the n-th
    /// result of a source (n from 0) and each job taking `takes`.
    async fn simulate(
        sources: Vec<Planned>,
        limits: Limits,
        takes: Duration,
        run_for: Duration,
        script: fn(&str, usize) -> Done,
    ) -> Simulated {
        let start = Instant::now();
        let settled: Arc<Mutex<HashMap<String, Vec<u64>>>> = Arc::default();
        let log: Log = Arc::default();
        let (control, rx) = mpsc::channel(4);
        control
            .send(Control::Sync(sources.clone(), policy()))
            .await
            .expect("send");
        let hosts: HashMap<String, String> =
            sources.iter().map(|s| (s.name.clone(), s.host.clone())).collect();
        let job = {
            let log = log.clone();
            move |name: String| {
                let log = log.clone();
                let host = hosts[&name].clone();
                async move {
                    let n = {
                        let mut l = log.lock().expect("lock");
                        let starts = l.0.entry(name.clone()).or_default();
                        starts.push((Instant::now() - start).as_secs());
                        let n = starts.len() - 1;
                        for key in [host.clone(), "*".to_string()] {
                            let (now, most) = l.1.entry(key).or_default();
                            *now += 1;
                            *most = (*most).max(*now);
                        }
                        n
                    };
                    tokio::time::sleep(takes).await;
                    let mut l = log.lock().expect("lock");
                    for key in [host.as_str(), "*"] {
                        l.1.get_mut(key).expect("counted").0 -= 1;
                    }
                    script(&name, n)
                }
            }
        };
        let settle = {
            let settled = settled.clone();
            move |name: String, due: Instant| {
                let settled = settled.clone();
                async move {
                    let mut s = settled.lock().expect("lock");
                    s.entry(name).or_default().push((due - start).as_secs());
                }
            }
        };
        let driver = tokio::spawn(drive(
            Scheduler::new(policy()),
            Arc::new(limits),
            rx,
            job,
            settle,
            |_, _| {},
        ));
        tokio::time::sleep(run_for).await;
        control.send(Control::Stop).await.expect("send");
        driver.await.expect("driver");
        let l = log.lock().expect("lock");
        let settled = settled.lock().expect("lock").clone();
        Simulated {
            starts: l.0.clone(),
            most: l.1.iter().map(|(h, (_, most))| (h.clone(), *most)).collect(),
            settled,
        }
    }

    fn ok() -> Done {
        Done::Fetched {
            ok: true,
            hints: Hints::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sources_are_fetched_on_their_intervals_and_ttl() {
        let mut a = planned("a", "h1", 15 * MIN);
        a.interval = 10 * MIN;
        let list = vec![a, planned("ttl", "h2", 15 * MIN)];
        let Simulated { starts, .. } = simulate(
            list,
            Limits::new(8, 2),
            Duration::from_secs(1),
            61 * MIN,
            |name, _| {
                if name == "ttl" {
                    Done::Fetched {
                        ok: true,
                        hints: feed(Some(30 * MIN), Skip::default()),
                    }
                } else {
                    ok()
                }
            },
        )
        .await;
        assert_eq!(starts["a"], vec![0, 601, 1202, 1803, 2404, 3005, 3606]);
        assert_eq!(starts["ttl"], vec![1, 1802, 3603], "<ttl> of 30 min honoured");
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_fetched_elsewhere_is_looked_at_again_without_backing_off() {
        let list = vec![planned("held", "h", 15 * MIN), planned("mine", "h", 15 * MIN)];
        let sim = simulate(
            list,
            Limits::new(8, 8),
            Duration::from_secs(1),
            902 * Duration::from_secs(1) + Duration::from_millis(500),
            |name, n| match (name, n) {
                // Another daemon holds it for 5 minutes, then says it is due already.
                ("held", 0) => Done::Elsewhere {
                    until: Instant::now() + 5 * MIN,
                },
                ("held", 1) => Done::Elsewhere {
                    until: Instant::now(),
                },
                _ => ok(),
            },
        )
        .await;
        assert_eq!(
            sim.starts["held"],
            vec![0, 301, 303],
            "at the end of the lease, then a second later, then its interval"
        );
        assert_eq!(
            sim.settled["held"],
            vec![1204],
            "only the fetch made here is settled"
        );
        assert_eq!(
            sim.settled["mine"],
            vec![902, 1803],
            "the fetch under way at the stop is settled too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_and_retry_after_is_per_source() {
        let list = vec![
            planned("down", "same-host", 15 * MIN),
            planned("limited", "same-host", 15 * MIN),
            planned("fine", "same-host", 15 * MIN),
        ];
        let Simulated { starts, .. } = simulate(
            list,
            Limits::new(8, 8),
            Duration::ZERO,
            20 * MIN,
            |name, n| match name {
                "down" => Done::Fetched {
                    ok: false,
                    hints: Hints::default(),
                },
                "limited" if n == 0 => Done::Fetched {
                    ok: false,
                    hints: Hints {
                        retry_after: Some(7 * MIN),
                        ..Hints::default()
                    },
                },
                _ => ok(),
            },
        )
        .await;
        let down = &starts["down"];
        let gaps: Vec<u64> = down.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() >= 4, "{down:?}");
        for (i, gap) in gaps.iter().enumerate() {
            let full = 30u64 << i;
            assert!(
                (full / 2..=full).contains(gap),
                "retry {i}: {gap}s after, want {}..={full}",
                full / 2
            );
        }
        assert_eq!(
            starts["limited"],
            vec![1, 421],
            "Retry-After: 7 min, then its interval"
        );
        assert_eq!(
            starts["fine"],
            vec![2, 902],
            "the same host's other source is not held back"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn per_host_and_global_limits_hold() {
        let mut list: Vec<Planned> = (0..6)
            .map(|i| planned(&format!("x{i}"), "busy", 15 * MIN))
            .collect();
        list.extend((0..6).map(|i| planned(&format!("y{i}"), &format!("host{i}"), 15 * MIN)));
        let Simulated { starts, most, .. } = simulate(
            list,
            Limits::new(4, 2),
            10 * Duration::from_secs(1),
            MIN,
            |_, _| ok(),
        )
        .await;
        assert_eq!(most["busy"], 2, "per-host limit");
        assert_eq!(most["*"], 4, "global limit");
        assert!(
            most.iter()
                .filter(|(h, _)| h.starts_with("host"))
                .all(|(_, m)| *m == 1)
        );
        // Six sources on one host two at a time take three rounds of 10 s.
        let mut busy: Vec<u64> = (0..6).map(|i| starts[&format!("x{i}")][0]).collect();
        busy.sort_unstable();
        assert!(busy[5] >= 20, "{busy:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_gone_source_stops_and_stop_waits_for_fetches_under_way() {
        let list = vec![planned("gone", "h", MIN), planned("slow", "h2", MIN)];
        let Simulated { starts, .. } = simulate(
            list,
            Limits::new(8, 2),
            30 * Duration::from_secs(1),
            10 * MIN,
            |name, _| {
                if name == "gone" {
                    Done::Fetched {
                        ok: false,
                        hints: Hints {
                            gone: true,
                            ..Hints::default()
                        },
                    }
                } else {
                    ok()
                }
            },
        )
        .await;
        assert_eq!(starts["gone"], vec![0], "410: fetched once, never again");
        assert!(starts["slow"].len() >= 6);
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let origin = Instant::now();
        let draws: Vec<f64> = (0..100)
            .map(|i| jitter(&format!("s{i}"), 1, origin, origin))
            .collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|&d| d < 0.3) && draws.iter().any(|&d| d > 0.7));
    }
}
