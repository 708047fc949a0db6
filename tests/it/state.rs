//! What a source's fetches say about when to fetch it again is kept in the store: `fetch` runs
//! (from cron) and a restarted daemon honour it. The clock is passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};
use feedfold::run::{Outcome, SourceReport};
use feedfold::store::Taking;

use crate::cli::{run_command, write_config};
use crate::serve::Daemon;
use crate::support::{Env, Origin, sources};

fn rss(extra: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>http://example.com/</link>{extra}\
         <item><title>One</title><link>http://example.com/1</link><description>The first story.</description></item>\
         </channel></rss>"
    )
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

fn minutes(t: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    t + chrono::Duration::minutes(m)
}

fn outcome<'a>(reports: &'a [SourceReport], name: &str) -> &'a Outcome {
    &reports.iter().find(|r| r.name == name).expect("report").outcome
}

fn not_due_until(reports: &[SourceReport], name: &str) -> DateTime<Utc> {
    match outcome(reports, name) {
        Outcome::NotDue { until } => *until,
        other => panic!("{name}: expected not due, got {other:?}"),
    }
}

fn fetched(reports: &[SourceReport], name: &str) -> bool {
    matches!(
        outcome(reports, name),
        Outcome::Stored { .. } | Outcome::NotModified
    )
}

#[tokio::test]
async fn a_source_waits_its_interval_or_its_ttl_between_runs_unless_forced() {
    let origin = Origin::start().await;
    origin.set_mutable("ttl.xml", rss("<ttl>120</ttl>").as_bytes());
    origin.set_mutable("plain.xml", rss("").as_bytes());
    let env = Env::new(&format!(
        "[fetch]\ninterval = \"15m\"\n\n{}",
        sources(&[
            ("ttl", origin.url("/mutable/ttl.xml")),
            ("plain", origin.url("/mutable/plain.xml")),
        ])
    ))
    .await;
    let t0 = at("2024-05-01T08:00:00Z");
    let first = env.fetch_at(t0, Taking::Due).await;
    assert!(fetched(&first, "ttl") && fetched(&first, "plain"), "{first:?}");

    let second = env.fetch_at(minutes(t0, 10), Taking::Due).await;
    assert_eq!(not_due_until(&second, "plain"), minutes(t0, 15), "its interval");
    assert_eq!(
        not_due_until(&second, "ttl"),
        minutes(t0, 120),
        "the feed's <ttl>"
    );
    assert_eq!(origin.hits("/mutable/ttl.xml"), 1);

    // A run from cron every 15 minutes finds the plain feed due, the other not before 10:00.
    let third = env.fetch_at(minutes(t0, 15), Taking::Due).await;
    assert_eq!(outcome(&third, "plain"), &Outcome::NotModified);
    assert!(matches!(outcome(&third, "ttl"), Outcome::NotDue { .. }));

    let forced = env.fetch_at(minutes(t0, 20), Taking::Any).await;
    assert!(fetched(&forced, "ttl"), "--force fetches it: {forced:?}");
    assert_eq!(origin.hits("/mutable/ttl.xml"), 2);
    assert_eq!(
        origin.conditional_hits("/mutable/ttl.xml"),
        1,
        "with the stored validators"
    );
    // The <ttl> is remembered across the 304, which carries no feed.
    let after = env.fetch_at(minutes(t0, 100), Taking::Due).await;
    assert_eq!(not_due_until(&after, "ttl"), minutes(t0, 140));
    assert!(fetched(&env.fetch_at(minutes(t0, 140), Taking::Due).await, "ttl"));
}

#[tokio::test]
async fn gone_retry_after_and_backoff_are_remembered_and_revive_clears_gone() {
    let origin = Origin::start().await;
    let env = Env::new(&format!(
        "[fetch]\ninterval = \"15m\"\n\n{}",
        sources(&[
            ("gone", origin.url("/gone/feed.xml")),
            ("busy", origin.url("/busy/600")),
            ("down", origin.url("/status/503")),
        ])
    ))
    .await;
    let t0 = at("2024-05-01T08:00:00Z");
    let first = env.fetch_at(t0, Taking::Due).await;
    assert!(first.iter().all(SourceReport::failed), "{first:?}");

    let later = env.fetch_at(minutes(t0, 5), Taking::Due).await;
    assert_eq!(outcome(&later, "gone"), &Outcome::Gone);
    assert_eq!(origin.hits("/gone/feed.xml"), 1, "not asked again");
    assert_eq!(not_due_until(&later, "busy"), minutes(t0, 10), "Retry-After: 600");
    assert!(
        later.iter().filter(|r| r.name != "down").all(|r| !r.failed()),
        "skipped sources are no failures"
    );
    // The first failure waits 15–30 s; by 5 minutes it is due again, and fails a second time.
    assert!(later.iter().find(|r| r.name == "down").expect("down").failed());
    let third = env
        .fetch_at(minutes(t0, 5) + chrono::Duration::seconds(10), Taking::Due)
        .await;
    let until = not_due_until(&third, "down");
    assert!(
        until >= minutes(t0, 5) + chrono::Duration::seconds(30),
        "the second failure backs off longer: {until}"
    );

    let much_later = env.fetch_at(minutes(t0, 24 * 60), Taking::Due).await;
    assert_eq!(outcome(&much_later, "gone"), &Outcome::Gone, "gone stays gone");
    assert_eq!(origin.hits("/gone/feed.xml"), 1);
    assert!(env.store.revive("gone").await.expect("revive"));
    let revived = env.fetch_at(minutes(t0, 24 * 60 + 1), Taking::Due).await;
    assert!(revived.iter().find(|r| r.name == "gone").expect("gone").failed());
    assert_eq!(origin.hits("/gone/feed.xml"), 2, "fetched again once revived");
}

#[tokio::test]
async fn a_feeds_skip_hours_and_days_push_its_next_fetch_out() {
    let origin = Origin::start().await;
    origin.set_mutable(
        "night.xml",
        rss(
            "<skipHours><hour>11</hour></skipHours><skipDays><day>Saturday</day><day>Sunday</day></skipDays>",
        )
        .as_bytes(),
    );
    let env = Env::new(&format!(
        "[fetch]\ninterval = \"15m\"\n\n{}",
        sources(&[("night", origin.url("/mutable/night.xml"))])
    ))
    .await;
    // Wednesday 10:50: due at 11:05, in a skipped hour, so at 12:00.
    let t0 = at("2024-05-01T10:50:00Z");
    assert!(fetched(&env.fetch_at(t0, Taking::Due).await, "night"));
    let skipped = env.fetch_at(at("2024-05-01T11:30:00Z"), Taking::Due).await;
    assert_eq!(not_due_until(&skipped, "night"), at("2024-05-01T12:00:00Z"));
    assert!(fetched(
        &env.fetch_at(at("2024-05-01T12:00:00Z"), Taking::Due).await,
        "night"
    ));
    // Friday 23:50: due on Saturday, so on Monday at midnight.
    assert!(fetched(
        &env.fetch_at(at("2024-05-03T23:50:00Z"), Taking::Any).await,
        "night"
    ));
    let weekend = env.fetch_at(at("2024-05-04T09:00:00Z"), Taking::Due).await;
    assert_eq!(not_due_until(&weekend, "night"), at("2024-05-06T00:00:00Z"));
}

#[tokio::test]
async fn a_new_url_starts_a_gone_source_afresh() {
    let origin = Origin::start().await;
    origin.set_mutable("new.xml", rss("").as_bytes());
    let dir = tempfile::tempdir().expect("dir");
    let config = |url: String| {
        format!(
            "[[output]]\nname = \"all\"\ntitle = \"All\"\n\n{}",
            sources(&[("s", url)])
        )
    };
    let path = write_config(dir.path(), &config(origin.url("/gone/old.xml")));
    let out = run_command("fetch", &path, &[]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "gone is no failure of this run: {err}"
    );
    assert!(
        err.contains("gone") && err.contains("feedfold sources revive s"),
        "{err}"
    );
    assert_eq!(origin.hits("/gone/old.xml"), 1);

    let path = write_config(dir.path(), &config(origin.url("/mutable/new.xml")));
    let out = run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("1 new"), "{err}");
}

#[tokio::test]
async fn fetch_lists_sources_not_due_and_force_and_revive_fetch_them() {
    let origin = Origin::start().await;
    origin.set_mutable("a.xml", rss("").as_bytes());
    let dir = tempfile::tempdir().expect("dir");
    let path = write_config(
        dir.path(),
        &format!(
            "[[output]]\nname = \"all\"\ntitle = \"All\"\n\n{}",
            sources(&[
                ("a", origin.url("/mutable/a.xml")),
                ("g", origin.url("/gone/g.xml"))
            ])
        ),
    );
    let out = run_command("fetch", &path, &[]).await;
    assert_eq!(out.status.code(), Some(1), "g failed");
    let out = run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with("a ") && l.contains("not due") && l.contains("--force")),
        "{err}"
    );
    assert!(err.contains("2 not due or gone"), "{err}");
    assert_eq!(origin.hits("/mutable/a.xml"), 1);

    let out = run_command("fetch", &path, &[std::path::Path::new("--force")]).await;
    assert_eq!(out.status.code(), Some(1), "forced: g is fetched and fails again");
    assert_eq!(origin.hits("/mutable/a.xml"), 2);
    assert_eq!(origin.hits("/gone/g.xml"), 2);

    let revive = |name: &'static str| {
        let path = path.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                crate::cli::feedfold()
                    .args(["sources", "revive", name, "--config"])
                    .arg(&path)
                    .output()
                    .expect("run")
            })
            .await
            .expect("join")
        }
    };
    let out = revive("nope").await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = revive("g").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_command("fetch", &path, &[]).await;
    assert_eq!(out.status.code(), Some(1), "revived g is fetched (and fails)");
    assert_eq!(origin.hits("/gone/g.xml"), 3);
    assert_eq!(origin.hits("/mutable/a.xml"), 2, "a is still not due");
}

/// A daemon started on a store where a `<ttl>` feed was fetched lately does not fetch it at
/// start-up, and does not fetch a source that is gone.
#[tokio::test]
async fn a_restarted_daemon_goes_on_from_what_the_store_remembers() {
    let origin = Origin::start().await;
    origin.set_mutable("ttl.xml", rss("<ttl>120</ttl>").as_bytes());
    origin.set_mutable("fresh.xml", rss("").as_bytes());
    let text = format!(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\ninterval = \"30s\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n\n{}",
        sources(&[
            ("ttl", origin.url("/mutable/ttl.xml")),
            ("gone", origin.url("/gone/x.xml")),
            ("fresh", origin.url("/mutable/fresh.xml")),
        ])
    );
    let daemon = Daemon::launch(&text).await;
    daemon
        .wait_for("the first fetches", |_| async {
            origin.hits("/mutable/ttl.xml") == 1
                && origin.hits("/gone/x.xml") == 1
                && origin.hits("/mutable/fresh.xml") == 1
        })
        .await;
    let dir = daemon.stop().await;
    // A second daemon on the same store: the new source is fetched at once, the others not.
    let path = dir.path().join("feedfold.toml");
    std::fs::write(
        &path,
        format!(
            "{text}\n[[source]]\nname = \"added\"\nurl = \"{}\"\n",
            origin.url("/mutable/fresh.xml")
        ),
    )
    .expect("write");
    let daemon = Daemon::launch_with(&std::fs::read_to_string(&path).expect("read"), |d| {
        std::fs::copy(dir.path().join("daemon.db"), d.join("daemon.db")).expect("copy store");
        for ext in ["db-wal", "db-shm"] {
            let _ = std::fs::copy(
                dir.path().join(format!("daemon.{ext}")),
                d.join(format!("daemon.{ext}")),
            );
        }
    })
    .await;
    daemon
        .wait_for("the new source", |_| async {
            origin.hits("/mutable/fresh.xml") == 2
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(origin.hits("/mutable/ttl.xml"), 1, "due in two hours");
    assert_eq!(origin.hits("/gone/x.xml"), 1, "gone");
    daemon.stop().await;
}
