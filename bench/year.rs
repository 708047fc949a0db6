//! Benchmark (vii): a year of operation with retention, on a simulated clock.
//!
//! ```text
//! cargo run --release --example bench-year -- --origin http://127.0.0.1:8768 --dir WORK \
//!     [--sources 1000] [--days 365] [--checkpoints 30,90,180,365] [--keep 30d] [--concurrency 48]
//! ```
//!
//! Drives the library as `feedfold fetch` runs it, once per simulated day, against
//! benchmark (iv)'s loopback origin (`bench/origin.rs --feeds SOURCES --items 30`, started by
//! `bench/year.sh`): day 0 is the cold cycle (every feed new); before each later day it asks the
//! origin to `POST /mutate?percent=10&items=3` (10 % of the feeds get 3 new items each, and lose
//! as many from their tail), then runs a cycle at that day's time: fetch and fold
//! ([`run::fetch_all`]), write the outputs ([`run::publish`]), prune ([`prune::prune`]). The
//! clock is passed in; nothing waits for real days.
//!
//! Config (written to `DIR/year.toml`): SQLite store `DIR/year.db`, `[store] keep`, every source
//! on the origin, `[fetch] concurrency` and `per_host` both CONCURRENCY, two outputs (`all`,
//! limit 100; `shanghai`, a region filter, limit 100).
//!
//! Prints, at day 0 and every checkpoint day, one Markdown table row: the store (items, stories,
//! tombstones, the database file, its WAL, the pages in use), the cycle of that day (wall time,
//! and how much of it pruning took), the cycles since the previous checkpoint (mean and longest
//! wall time, items stored and pruned), and the process's peak RSS since the previous
//! checkpoint (`VmHWM`, reset through `/proc/self/clear_refs`). Progress goes to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use feedfold::config::Config;
use feedfold::pipeline::prune;
use feedfold::run::{self, Outcome};
use feedfold::source::http::Fetcher;
use feedfold::store::{Store, Taking};
use sqlx::Connection;

/// The allocator of the `feedfold` binary, so memory figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Args {
    origin: String,
    dir: PathBuf,
    sources: usize,
    days: i64,
    checkpoints: Vec<i64>,
    keep: String,
    concurrency: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-year --origin URL --dir DIR [--sources 1000] [--days 365] \
         [--checkpoints 30,90,180,365] [--keep 30d] [--concurrency 48]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        origin: String::new(),
        dir: PathBuf::new(),
        sources: 1000,
        days: 365,
        checkpoints: vec![30, 90, 180, 365],
        keep: "30d".into(),
        concurrency: 48,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--origin" => a.origin = value.trim_end_matches('/').to_string(),
            "--dir" => a.dir = PathBuf::from(value),
            "--sources" => a.sources = value.parse().unwrap_or_else(|_| usage()),
            "--days" => a.days = value.parse().unwrap_or_else(|_| usage()),
            "--checkpoints" => {
                a.checkpoints = value
                    .split(',')
                    .map(|d| d.trim().parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--keep" => a.keep = value,
            "--concurrency" => a.concurrency = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.origin.is_empty() || a.dir.as_os_str().is_empty() {
        usage();
    }
    a
}

fn config_text(a: &Args) -> String {
    let mut text = format!(
        "[store]\nurl = \"sqlite://year.db\"\nkeep = \"{}\"\n\n\
         [fetch]\nconcurrency = {c}\nper_host = {c}\n\n\
         [publish]\ndir = \"public\"\nbase_url = \"http://localhost:8080\"\n\n",
        a.keep,
        c = a.concurrency
    );
    for i in 0..a.sources {
        text.push_str(&format!(
            "[[source]]\nname = \"s{i:04}\"\nurl = \"{}/feed-{i:04}.xml\"\n\n",
            a.origin
        ));
    }
    text.push_str("[[output]]\nname = \"all\"\ntitle = \"All stories\"\nlimit = 100\n\n");
    text.push_str("[[output]]\nname = \"shanghai\"\ntitle = \"Shanghai\"\nregions = [\"上海\"]\n");
    text
}

/// The process's peak resident set since the last [`reset_peak`], in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1000.0)
}

/// Starts counting the peak resident set again (Linux: `echo 5 > /proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// What the store holds: (tombstones, bytes of pages in use).
async fn store_rows(url: &str) -> (i64, u64) {
    let Ok(mut conn) = sqlx::AnyConnection::connect(url).await else {
        return (0, 0);
    };
    let tombstones: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM item_tombstones")
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0);
    let pragma =
        |name: &'static str| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("PRAGMA {name}")));
    let pages = pragma("page_count").fetch_one(&mut conn).await.unwrap_or(0);
    let free = pragma("freelist_count").fetch_one(&mut conn).await.unwrap_or(0);
    let size = pragma("page_size").fetch_one(&mut conn).await.unwrap_or(0);
    let _ = conn.close().await;
    (tombstones, u64::try_from((pages - free) * size).unwrap_or(0))
}

/// The cycles since the last checkpoint.
#[derive(Default)]
struct Interval {
    cycles: u32,
    total: Duration,
    longest: (Duration, i64),
    stored: usize,
    pruned: usize,
    failed: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let a = args();
    feedfold::install_tls_provider();
    std::fs::create_dir_all(&a.dir).expect("work folder");
    let path = a.dir.join("year.toml");
    std::fs::write(&path, config_text(&a)).expect("config");
    let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&cfg.store.url).await.expect("store");
    let fetcher = Fetcher::new(&cfg.fetch).expect("client");
    let client = reqwest::Client::new();
    let public = a.dir.join("public");
    let db = a.dir.join("year.db");
    let wal = a.dir.join("year.db-wal");
    // Day 0: the first day of March 2025 (the origin's items are dated from January 2025).
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).single().expect("start");

    println!(
        "| day | items | stories | tombstones | db file | WAL | pages in use | cycle that day (prune) | cycles since last: mean / longest (day) | stored / pruned since last | peak RSS since last |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut since = Interval::default();
    let began = Instant::now();
    reset_peak();
    for d in 0..=a.days {
        if d > 0 {
            let mutated = client
                .post(format!("{}/mutate?percent=10&items=3", a.origin))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status);
            if let Err(e) = mutated {
                eprintln!("bench-year: the origin did not mutate: {e}");
                return ExitCode::FAILURE;
            }
        }
        let now = start + chrono::Duration::days(d);
        let t = Instant::now();
        let cycle = run::fetch_all(&cfg, &store, &fetcher, now, Taking::Due, &|_| {})
            .await
            .expect("fetch cycle");
        run::publish(&cfg, &store, &public, now).await.expect("publish");
        let p = Instant::now();
        let pruned = prune::prune(&store, &cfg, now).await.expect("prune");
        let (pruning, wall) = (p.elapsed(), t.elapsed());
        since.cycles += 1;
        since.total += wall;
        if wall > since.longest.0 {
            since.longest = (wall, d);
        }
        since.pruned += pruned.items;
        for r in &cycle.reports {
            match &r.outcome {
                Outcome::Stored { counts, .. } => since.stored += counts.new,
                Outcome::Failed { .. } => since.failed += 1,
                _ => {}
            }
        }
        if d % 10 == 0 {
            eprintln!(
                "day {d}: {:.2} s (prune {:.2} s), {} pruned; {:.0} s so far",
                wall.as_secs_f64(),
                pruning.as_secs_f64(),
                pruned.items,
                began.elapsed().as_secs_f64()
            );
        }
        if d == 0 || a.checkpoints.contains(&d) {
            let totals = store.totals().await.expect("totals");
            let (tombstones, in_use) = store_rows(&cfg.store.url).await;
            println!(
                "| {d} | {} | {} | {tombstones} | {:.1} MB | {:.1} MB | {:.1} MB | {:.2} s ({:.2} s) | {:.2} s / {:.2} s (day {}) | {} / {} | {:.0} MB |",
                totals.items,
                totals.stories,
                mb(file_len(&db)),
                mb(file_len(&wal)),
                mb(in_use),
                wall.as_secs_f64(),
                pruning.as_secs_f64(),
                since.total.as_secs_f64() / f64::from(since.cycles.max(1)),
                since.longest.0.as_secs_f64(),
                since.longest.1,
                since.stored,
                since.pruned,
                peak_rss_mb(),
            );
            if since.failed > 0 {
                println!("(failed fetches since the last checkpoint: {})", since.failed);
            }
            since = Interval::default();
            reset_peak();
        }
    }
    eprintln!(
        "bench-year: {} days in {:.0} s",
        a.days,
        began.elapsed().as_secs_f64()
    );
    store.close().await;
    ExitCode::SUCCESS
}
