//! Opening a store (issue 15): any number of `feedfold` processes starting at once on a store
//! that does not exist yet all start, on SQLite and PostgreSQL, and the store is migrated once;
//! a database that cannot be reached fails within seconds with its cause ("connection
//! refused", "role … does not exist", "database … does not exist", or no answer within the
//! connect timeout), said once, naming the store's URL and never its password.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use feedfold::run::error_chain;
use feedfold::store::Store;
use sqlx::Connection;

use crate::support::{Backend, PostgresDb, postgres_admin};

/// Processes started at once in [`first_starts`].
const PROCESSES: usize = 8;

/// Rounds of [`first_starts`], each on a new store: one round does not always hit the race.
const ROUNDS: usize = 3;

/// A config file in `dir` with a store at `url` and nothing else.
fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("feedfold.toml");
    std::fs::write(&path, format!("[store]\nurl = \"{url}\"\n")).expect("write config");
    path
}

/// Starts `feedfold export --config PATH` `n` times at once and waits for all of them.
fn run_at_once(path: &Path, n: usize) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_feedfold"))
                .args(["export", "--config"])
                .arg(path)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn feedfold")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for feedfold"))
        .collect()
}

/// The versions recorded in the store's migration table, in order.
async fn versions(url: &str) -> Vec<i64> {
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let versions = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("migration records");
    conn.close().await.expect("close");
    versions
}

/// [`PROCESSES`] processes open a store that does not exist yet, [`ROUNDS`] times: every
/// process succeeds, every migration is recorded once, and the store then works.
async fn first_starts(backend: Backend) {
    sqlx::any::install_default_drivers();
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, _db) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("new.db").display()), None),
            Backend::Postgres => {
                let Some(admin) = postgres_admin() else {
                    return;
                };
                let db = PostgresDb::create(&admin).await;
                (db.url.clone(), Some(db))
            }
        };
        let path = config(dir.path(), &url);
        let outputs = tokio::task::spawn_blocking(move || run_at_once(&path, PROCESSES))
            .await
            .expect("join");
        for (i, out) in outputs.iter().enumerate() {
            assert!(
                out.status.success(),
                "round {round}, process {i} of {PROCESSES} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let url = match backend {
            Backend::Sqlite => format!("{url}?mode=rw"),
            Backend::Postgres => url,
        };
        assert_eq!(
            versions(&url).await,
            [1, 2, 3, 4, 5, 6, 7, 8, 10],
            "every migration recorded once"
        );
        let store = Store::open(&url).await.expect("open the store they made");
        assert_eq!(store.legacy_ids_before(), 0, "a new store has no legacy stories");
        assert!(store.all_items().await.expect("items").is_empty());
        store.close().await;
    }
}

on_both_backends!(first_starts);

/// A loopback port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// Opens the store at `url`, which must fail: the message chain, and how long it took.
async fn open_failure(url: &str) -> (String, Duration) {
    let started = Instant::now();
    match Store::open(url).await {
        Ok(_) => panic!("{url} opened"),
        Err(e) => (error_chain(&e), started.elapsed()),
    }
}

/// A refused connection fails the open at once, not after a pool's 30 s of retries ending in
/// "pool timed out": the message says the connection was refused and names the URL, with its
/// password hidden. From the command line it is said once, with exit code 1.
#[tokio::test]
async fn a_refused_connection_fails_at_once_with_its_cause() {
    let port = closed_port();
    let url = format!("postgres://feedfold:pw-not-shown@127.0.0.1:{port}/feeds");
    let (message, took) = open_failure(&url).await;
    assert!(took < Duration::from_secs(10), "took {took:?}: {message}");
    assert!(message.to_lowercase().contains("connection refused"), "{message}");
    assert!(
        message.contains(&format!("postgres://feedfold:***@127.0.0.1:{port}/feeds")),
        "{message}"
    );
    assert!(!message.contains("pw-not-shown"), "{message}");
    assert!(!message.contains("timed out"), "{message}");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path(), &url);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_feedfold"))
            .args(["export", "--config"])
            .arg(&path)
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {stderr}");
    assert_eq!(
        stderr.to_lowercase().matches("connection refused").count(),
        1,
        "the cause, once: {stderr}"
    );
    assert!(stderr.contains(":***@127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("pw-not-shown"), "{stderr}");
}

/// On a real server, a role or a database that does not exist is named in the message (the
/// server's own words), at once; the password given with it is not.
#[tokio::test]
async fn an_unknown_role_or_database_is_named() {
    let Some(admin) = postgres_admin() else {
        return;
    };
    let server = url::Url::parse(&admin).expect("admin URL");

    let mut no_role = server.clone();
    no_role.set_username("feedfold_no_such_role").expect("user");
    no_role.set_password(Some("pw-not-shown")).expect("password");
    let (message, took) = open_failure(no_role.as_str()).await;
    assert!(took < Duration::from_secs(10), "took {took:?}: {message}");
    assert!(
        message.contains("role \"feedfold_no_such_role\" does not exist"),
        "{message}"
    );
    assert!(message.contains("feedfold_no_such_role:***@"), "{message}");
    assert!(!message.contains("pw-not-shown"), "{message}");

    let mut no_db = server.clone();
    no_db.set_path("/feedfold_no_such_db");
    let (message, took) = open_failure(no_db.as_str()).await;
    assert!(took < Duration::from_secs(10), "took {took:?}: {message}");
    assert!(
        message.contains("database \"feedfold_no_such_db\" does not exist"),
        "{message}"
    );
}

/// A server that takes the connection and never answers (a hung server, a proxy in the way)
/// fails the open after the connect timeout, saying so, rather than waiting for ever.
#[tokio::test]
async fn a_silent_server_fails_after_the_connect_timeout() {
    // Connections wait in the listener's backlog: accepted by the kernel, never answered.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    let url = format!("postgres://feedfold:pw-not-shown@127.0.0.1:{port}/feeds");
    let (message, took) = open_failure(&url).await;
    assert!(took < Duration::from_secs(10), "took {took:?}: {message}");
    assert!(
        message.contains(&format!(
            "cannot open postgres://feedfold:***@127.0.0.1:{port}/feeds: no connection within {} s",
            feedfold::store::CONNECT_TIMEOUT.as_secs()
        )),
        "{message}"
    );
    assert!(!message.contains("pw-not-shown"), "{message}");
    drop(listener);
}
