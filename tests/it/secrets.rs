//! Secrets never shown: a source URL's `user:password@` and credential-like query parameters
//! are masked in every place feedfold shows a source (fetch's summary and logs, errors, the
//! daemon's index page, `/opml`, `/metrics`, `explain`, `export`), no republished link inherits
//! them, and credentials from a password file, the environment or a headers file are sent to
//! the source's own origin only.

use crate::cli::{feedfold, write_config};
use crate::serve::Daemon;
use crate::support::{AUTH_BASIC, AUTH_KEY, Origin};

/// Every secret the configs below hold.
const SECRETS: [&str; 6] = [
    "pw-in-a-file",
    "QUERYSECRET1",
    "hunter2-secret",
    "QUERYSECRET2",
    AUTH_KEY,
    "YWxpY2U6cHctaW4tYS1maWxl",
];

/// Runs a command on a blocking thread, so the origin on this test's runtime can answer it.
async fn output(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("run"))
        .await
        .expect("join")
}

fn assert_no_secret(surface: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{surface} shows `{secret}`:\n{text}");
    }
}

/// Sources whose URLs hold credentials, two that get theirs from files, and one that fails.
fn sources(origin: &Origin) -> String {
    let port = origin.addr.port();
    format!(
        "[[source]]\nname = \"userinfo\"\nurl = \"http://alice:pw-in-a-file@127.0.0.1:{port}/auth/relative.xml?apikey=QUERYSECRET1\"\n\n\
         [[source]]\nname = \"failing\"\nurl = \"http://bob:hunter2-secret@127.0.0.1:{port}/status/500?access_token=QUERYSECRET2\"\n\n\
         [[source]]\nname = \"from-file\"\nurl = \"http://127.0.0.1:{port}/auth/atom.xml\"\nusername = \"alice\"\npassword_file = \"pw\"\n\n\
         [[source]]\nname = \"from-headers\"\nurl = \"http://127.0.0.1:{port}/auth/rss1.rdf\"\nheaders_file = \"headers\"\n\n"
    )
}

fn write_secret_files(dir: &std::path::Path) {
    std::fs::write(dir.join("pw"), "pw-in-a-file\n").expect("write");
    std::fs::write(
        dir.join("headers"),
        format!("# the feed's key\nX-Api-Key: {AUTH_KEY}\n"),
    )
    .expect("write");
}

#[tokio::test]
async fn fetch_export_and_explain_never_show_a_secret() {
    let origin = Origin::start().await;
    let other = Origin::start_on([127, 0, 0, 2].into()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    write_secret_files(dir.path());
    let port = origin.addr.port();
    // The headers file's key goes to the source's own origin, not where it redirects.
    let elsewhere = other.url("/auth/rss2.xml");
    let to: String = url::form_urlencoded::byte_serialize(elsewhere.as_bytes()).collect();
    let path = write_config(
        dir.path(),
        &format!(
            "[fetch]\nallow_private = true\n\n{}\
             [[source]]\nname = \"from-env\"\nurl = \"http://127.0.0.1:{port}/auth/feed.json\"\nusername = \"alice\"\npassword_env = \"FEEDFOLD_TEST_FEED_PASSWORD\"\n\n\
             [[source]]\nname = \"redirected\"\nurl = \"http://127.0.0.1:{port}/redirect?to={to}\"\nheaders_file = \"headers\"\n\n\
             [[output]]\nname = \"all\"\ntitle = \"All\"\n",
            sources(&origin)
        ),
    );
    let mut fetch = feedfold();
    fetch
        .args(["fetch", "--config"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("public"))
        .env("FEEDFOLD_TEST_FEED_PASSWORD", "pw-in-a-file")
        .env("RUST_LOG", "debug");
    let fetch = output(fetch).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&fetch.stdout),
        String::from_utf8_lossy(&fetch.stderr)
    );
    assert_no_secret("fetch's summary and logs", &said);
    let line = |name: &str| {
        said.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{said}"))
            .to_string()
    };
    for name in ["userinfo", "from-file", "from-headers", "from-env"] {
        assert!(line(name).contains(" new"), "{name}: {said}");
    }
    let failing = line("failing");
    assert!(
        failing.contains(&format!(
            "fetch http://***@127.0.0.1:{port}/status/500?access_token=***: HTTP 500"
        )),
        "the failure names the source, masked: {failing}"
    );
    assert!(line("redirected").contains("HTTP 401"), "{said}");
    let seen = other.credentials();
    assert_eq!(
        seen,
        [("/auth/rss2.xml".to_string(), String::new())],
        "no credentials went to another origin"
    );
    assert!(
        origin
            .credentials()
            .iter()
            .any(|(path, seen)| path == "/redirect" && seen == AUTH_KEY),
        "the key went to the source's own origin: {:?}",
        origin.credentials()
    );
    assert!(
        origin
            .credentials()
            .iter()
            .any(|(path, seen)| path == "/auth/atom.xml" && seen == AUTH_BASIC),
        "the password file's password was sent"
    );

    // The store keeps no password (it has the URLs without their userinfo).
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let entry = entry.expect("entry");
        if entry.file_name().to_string_lossy().starts_with("cli.db") {
            let bytes = std::fs::read(entry.path()).expect("read");
            for password in ["pw-in-a-file", "hunter2-secret"] {
                assert!(
                    !bytes.windows(password.len()).any(|w| w == password.as_bytes()),
                    "{} holds `{password}`",
                    entry.path().display()
                );
            }
        }
    }

    // Republished files: no link inherited the source's credentials.
    let mut republished = String::new();
    for entry in std::fs::read_dir(dir.path().join("public")).expect("public") {
        let entry = entry.expect("entry");
        let text = std::fs::read_to_string(entry.path()).expect("read");
        assert_no_secret(&entry.path().display().to_string(), &text);
        republished.push_str(&text);
    }
    let relative = format!("http://127.0.0.1:{port}/auth/story.html");
    assert!(
        republished.contains(&relative),
        "a relative link resolves without the userinfo"
    );

    let mut export = feedfold();
    export
        .args(["export", "--config"])
        .arg(&path)
        .env("FEEDFOLD_TEST_FEED_PASSWORD", "pw-in-a-file");
    let export = output(export).await;
    assert!(export.status.success());
    let lines = String::from_utf8_lossy(&export.stdout).to_string();
    assert_no_secret("export", &lines);
    assert!(lines.contains("\"source\":\"userinfo\""), "{lines}");

    let mut explain = feedfold();
    explain
        .args(["explain", "--config"])
        .arg(&path)
        .arg("rel-1")
        .env("FEEDFOLD_TEST_FEED_PASSWORD", "pw-in-a-file");
    let explain = output(explain).await;
    let told = String::from_utf8_lossy(&explain.stdout).to_string();
    assert!(
        explain.status.success(),
        "{told}{}",
        String::from_utf8_lossy(&explain.stderr)
    );
    assert_no_secret("explain", &told);

    // Without the variable the config is refused, naming the variable, not a secret.
    let mut check = feedfold();
    check.args(["check", "--config"]).arg(&path);
    let check = output(check).await;
    let checked = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert_no_secret("check", &checked);
    assert!(
        checked.contains("FEEDFOLD_TEST_FEED_PASSWORD"),
        "the unset variable is named: {checked}"
    );
}

#[tokio::test]
async fn the_daemon_shows_no_secret() {
    let origin = Origin::start().await;
    let daemon = Daemon::launch_with(
        &format!(
            "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\ninterval = \"10m\"\n\n{}\
             [[output]]\nname = \"all\"\ntitle = \"All\"\n",
            sources(&origin)
        ),
        write_secret_files,
    )
    .await;
    daemon
        .wait_for("the first fetches", |d| async move {
            let metrics = d.text("/metrics").await;
            metrics.contains("feedfold_fetches_total{result=\"stored\"} 3")
                && metrics.contains("feedfold_fetches_total{result=\"failed\"} 1")
        })
        .await;
    for path in [
        "/",
        "/opml",
        "/metrics",
        "/feeds/all.rss",
        "/feeds/all.atom",
        "/feeds/all.json",
    ] {
        let text = daemon.text(path).await;
        assert_no_secret(path, &text);
    }
    let index = daemon.text("/").await;
    assert!(index.contains("HTTP 500"), "the failure is shown: {index}");
    assert!(index.contains("access_token=***"), "masked, not removed: {index}");
    let opml = daemon.text("/opml").await;
    assert!(opml.contains("xmlUrl=\"http://***@127.0.0.1:"), "{opml}");
}
