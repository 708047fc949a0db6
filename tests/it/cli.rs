//! The `feedfold` binary: commands, exit codes, summaries and config reports.

use std::process::Command;

use crate::support::{Origin, sources};

pub fn feedfold() -> Command {
    Command::new(env!("CARGO_BIN_EXE_feedfold"))
}

/// Runs `feedfold COMMAND --config PATH EXTRA…` on a blocking thread and waits for it.
pub async fn run_command(
    command: &str,
    path: &std::path::Path,
    extra: &[&std::path::Path],
) -> std::process::Output {
    let mut cmd = feedfold();
    cmd.args([command, "--config"]).arg(path);
    for arg in extra {
        cmd.arg(arg);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join")
}

pub fn write_config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("feedfold.toml");
    std::fs::write(&path, format!("[store]\nurl = \"sqlite://cli.db\"\n\n{body}")).expect("write");
    path
}

/// Runs `feedfold check` on a config of `body` in a new folder: the folder, the exit code, what
/// it printed on stderr, and the config file's path as printed.
fn check(body: &str) -> (tempfile::TempDir, Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), body);
    let out = feedfold()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (dir, out.status.code(), err, path.display().to_string())
}

#[test]
fn check_reports_every_problem_with_line_and_key_and_exits_2() {
    let (dir, code, err, file) = check(
        "[fetch]\ntimeout = \"soon\"\n\n[[source]]\nname = \"a\"\nurl = \"gopher://x\"\n\n\
         [[source]]\nname = \"a\"\nurl = \"b.xml\"\nextra = 1\n\n[[output]]\nname = \"bad name\"\ntitle = \"t\"\nsources = [\"zzz\"]\n\
         regions = [\"陕西\", \"Atlantis\", \"鼓楼区\"]\nkeywords = 'title:(a OR'\n",
    );
    assert_eq!(code, Some(2));
    for expected in [
        format!("{file}:5: fetch.timeout"),
        format!("{file}:9: source[0].url: source `a`: unsupported scheme `gopher`"),
        format!("{file}:14: source[1].extra: unknown field `extra`"),
        format!("{file}:17: output[0].name"),
        format!("{file}:19: output[0].sources[0]: no source is named `zzz`"),
        format!("{file}:20: output[0].regions[1]: no region is named `Atlantis`"),
        format!("{file}:20: output[0].regions[2]: `鼓楼区` names 4 regions"),
        format!("{file}:21: output[0].keywords: output `bad name`: bad query at character"),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    assert!(
        !dir.path().join("cli.db").exists(),
        "nothing runs on a bad config"
    );

    let fetch = feedfold()
        .args(["fetch", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(fetch.status.code(), Some(2));
}

#[test]
fn check_prints_every_problem_of_every_table_at_once() {
    let (dir, code, err, file) = check(
        "[fetch]\ntimout = \"5s\"\nmax_items = 0\n\n\
         [pubish]\ndir = \"out\"\n\n\
         [[source]]\nname = \"xian\"\nurl = \"htp:/feeds.example/rss.xml\"\nregoin = \"陕西\"\n\n\
         [[source]]\nname = \"no-url\"\n\n\
         [[source]]\nurl = \"http//feeds.example/other.xml\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\ndedup = \"fuzzy\"\nlimit = 0\nregion = [\"陕西\"]\n\n\
         [[output]]\nname = \"other\"\n",
    );
    assert_eq!(code, Some(2));
    for expected in [
        format!("{file} has 12 problems"),
        format!("{file}:5: fetch.timout: unknown field `timout`: did you mean `timeout`?"),
        format!("{file}:6: fetch.max_items: must be between 1 and 100000"),
        format!("{file}:8: pubish: unknown section `pubish`: did you mean `publish`?"),
        format!(
            "{file}:13: source[0].url: source `xian`: a mistyped URL, not a path: \
             did you mean `http://feeds.example/rss.xml`?"
        ),
        format!("{file}:14: source[0].regoin: unknown field `regoin`: did you mean `region`?"),
        format!("{file}:16: source[1].url: [[source]] #2 has no `url`: it is required"),
        format!("{file}:19: source[2].name: [[source]] #3 has no `name`: it is required"),
        format!(
            "{file}:20: source[2].url: [[source]] #3: a mistyped URL, not a path: \
             did you mean `http://feeds.example/other.xml`?"
        ),
        format!("{file}:25: output[0].dedup: unknown value `fuzzy`, expected one of `story`, `exact`, `off`"),
        format!("{file}:26: output[0].limit: must be between 1 and 100000"),
        format!("{file}:27: output[0].region: unknown field `region`: did you mean `regions`?"),
        format!("{file}:29: output[1].title: [[output]] #2 has no `title`: it is required"),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    assert!(
        !dir.path().join("cli.db").exists(),
        "nothing runs on a bad config"
    );
}

#[test]
fn check_warns_of_a_config_without_outputs() {
    let (_dir, code, err, file) = check("[[source]]\nname = \"a\"\nurl = \"a.xml\"\n");
    assert_eq!(code, Some(0));
    assert!(
        err.contains(&format!(
            "{file}: warning: no [[output]]: fetch stores items but writes no feed files"
        )),
        "{err}"
    );
}

#[test]
fn check_accepts_the_shipped_configs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["config/example.toml", "config/demo.toml"] {
        let out = feedfold()
            .args(["check", "--config"])
            .arg(root.join(name))
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = feedfold().args(["fetch"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = feedfold().args(["frobnicate"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    // A daemon that neither fetches nor serves, or listens without serving, is a usage error.
    for roles in [
        &["--no-fetch", "--no-http"][..],
        &["--no-http", "--listen", "127.0.0.1:0"],
    ] {
        let out = feedfold()
            .args(["serve", "--config", "x.toml"])
            .args(roles)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{roles:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    }
}

#[tokio::test]
async fn fetch_writes_outputs_and_exit_code_tells_about_failures_then_export_prints_items() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = sources(&[
        ("rss2", origin.url("/feeds/rss2.xml")),
        ("big5", origin.url("/feeds/big5.xml")),
    ]);
    let path = write_config(
        dir.path(),
        &format!("[[output]]\nname = \"all\"\ntitle = \"All\"\n\n{good}"),
    );
    let out_dir = dir.path().join("site");
    let run = |path: std::path::PathBuf, out_dir: std::path::PathBuf| async move {
        run_command("fetch", &path, &[std::path::Path::new("--out"), &out_dir]).await
    };
    let out = run(path.clone(), out_dir.clone()).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("rss2") && err.contains("3 new"), "{err}");
    for ext in ["rss", "atom", "json"] {
        assert!(out_dir.join(format!("all.{ext}")).is_file());
    }

    let again = run(path.clone(), out_dir.clone()).await;
    assert!(String::from_utf8_lossy(&again.stderr).contains("not modified (304)"));

    let export = run_command("export", &path, &[]).await;
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4);
    for l in &lines {
        for key in ["id", "url", "source", "title", "published", "cluster", "regions"] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        assert!(chrono::DateTime::parse_from_rfc3339(l["published"].as_str().expect("string")).is_ok());
    }
    assert!(
        lines
            .iter()
            .any(|l| l["id"] == "xd-0001" && l["source"] == "rss2")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["id"].is_null() && l["url"] == "news/3.html")
    );

    let broken = format!("{good}{}", sources(&[("down", origin.url("/status/503"))]));
    let path = write_config(
        dir.path(),
        &format!("[[output]]\nname = \"all\"\ntitle = \"All\"\n\n{broken}"),
    );
    let out = run(path, out_dir.clone()).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("FAILED") && err.contains("HTTP 503"), "{err}");
    assert!(out_dir.join("all.rss").is_file(), "outputs are still written");
}

#[test]
fn the_demo_writes_a_shaanxi_output_with_the_shaanxi_stories_only() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(root.join("config/demo.toml"), dir.path().join("demo.toml")).expect("copy");
    std::fs::create_dir(dir.path().join("demo")).expect("mkdir");
    for entry in std::fs::read_dir(root.join("config/demo")).expect("demo dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(
            &path,
            dir.path().join("demo").join(path.file_name().expect("name")),
        )
        .expect("copy");
    }
    let out = dir.path().join("public");
    let run = feedfold()
        .args(["fetch", "--config"])
        .arg(dir.path().join("demo.toml"))
        .arg("--out")
        .arg(&out)
        .output();
    let run = run.expect("run");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let feed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("shaanxi.json")).expect("json")).expect("json");
    let items = feed["items"].as_array().expect("items");
    let titles: Vec<&str> = items.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(items.len(), 6, "{titles:?}");
    for item in items {
        let code = item["_feedfold"]["regions"][0]["code"].as_str().unwrap_or("");
        assert!(
            code.starts_with("61"),
            "{} is not about Shaanxi: {code}",
            item["title"]
        );
    }
    for other in [
        "柳州螺螄粉產業園擴建",
        "Volcano eruption near Tonga disrupts communications",
        "进博会筹备工作进入冲刺阶段",
    ] {
        assert!(!titles.contains(&other), "{other} leaked into {titles:?}");
    }
}

/// `feedfold serve` as a process: it says where it listens, reloads on SIGHUP (refusing a bad
/// config with its problems), and exits 0 on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reloads_on_sighup_and_stops_on_sigterm() {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::Duration;

    feedfold::install_tls_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = crate::support::fixtures().join("feeds");
    let source = |name: &str, file: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nurl = \"{}\"\n\n",
            fixtures.join(file).display()
        )
    };
    let head = "[fetch]\nstartup_spread = 0\n\n[[output]]\nname = \"all\"\ntitle = \"All\"\n\n";
    let path = write_config(dir.path(), &format!("{head}{}", source("rss", "rss2.xml")));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_feedfold"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_line = |needle: &str| -> String {
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line with `{needle}`"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    let line = wait_line("serving on http://");
    let base = line
        .split("serving on ")
        .nth(1)
        .expect("address")
        .trim_end_matches('/')
        .to_string();
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{base}{path}");
        let client = client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("body")
        }
    };
    let mut found = false;
    for _ in 0..100 {
        if get("/feeds/all.rss").await.contains("Tom &amp; Jerry") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "the first fetch is served");
    let kill = |signal: &str| {
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    };

    write_config(
        dir.path(),
        &format!(
            "{head}{}{}",
            source("rss", "rss2.xml"),
            source("atom", "atom.xml")
        ),
    );
    kill("-HUP");
    wait_line("config reloaded");
    let mut reloaded = false;
    for _ in 0..100 {
        if get("/").await.contains("source-atom") && get("/feeds/all.atom").await.contains("urn:feedfold") {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "the added source is scheduled");

    write_config(dir.path(), "[fetch]\ninterval = \"never\"\n");
    kill("-HUP");
    wait_line("reload refused");
    let problem = wait_line("fetch.interval");
    assert!(problem.contains("feedfold.toml:5"), "{problem}");
    assert!(get("/").await.contains("source-atom"), "the running config stays");

    kill("-TERM");
    wait_line("stopped");
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sources_import_adds_subscriptions_and_keeps_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = crate::support::fixtures().join("opml");
    let config = dir.path().join("feeds.toml");
    std::fs::copy(fixtures.join("feeds.toml"), &config).expect("copy");
    let before = std::fs::read_to_string(&config).expect("read");
    let import = |opml: &std::path::Path| {
        feedfold()
            .args(["sources", "import"])
            .arg(opml)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run")
    };
    let out = import(&fixtures.join("feedreader.opml"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("8 added, 2 skipped, 1 rejected"), "{err}");
    let after = std::fs::read_to_string(&config).expect("read");
    assert!(after.starts_with(&before), "the file's own text is kept");
    let check = feedfold()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(check.status.code(), Some(0));

    let again = import(&fixtures.join("feedreader.opml"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 added"));
    assert_eq!(std::fs::read_to_string(&config).expect("read"), after);

    let bad = dir.path().join("bad.opml");
    std::fs::write(&bad, "<opml version=\"2.0\"><body><outline").expect("write");
    let out = import(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.opml"));
}

/// `fetch` never writes a token-protected output into the public folder: without
/// `[publish] private_dir` it says it skipped it (and removes a file of it an earlier version
/// left there); with one, it writes it there, readable by its owner only, its self link
/// carrying the token as the daemon's does.
#[tokio::test]
async fn fetch_keeps_token_protected_outputs_out_of_the_public_folder() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = "s3cret-token-0123456789";
    let body = |publish: &str| {
        format!(
            "[publish]\nbase_url = \"https://feeds.example/ff\"\n{publish}\n\
             [[output]]\nname = \"all\"\ntitle = \"All\"\n\n\
             [[output]]\nname = \"secret\"\ntitle = \"Secret\"\ntoken = \"{token}\"\n\n{}",
            sources(&[("rss2", origin.url("/feeds/rss2.xml"))])
        )
    };
    let public = dir.path().join("public");
    std::fs::create_dir(&public).expect("mkdir");
    // Left by an earlier version, which wrote private outputs with the public ones.
    std::fs::write(public.join("secret.rss"), "<rss>old private items</rss>").expect("write");
    std::fs::write(public.join("secret.json"), "{}").expect("write");

    let path = write_config(dir.path(), &body(""));
    let out = run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(public.join("all.rss").is_file(), "{err}");
    for ext in ["rss", "atom", "json"] {
        assert!(
            !public.join(format!("secret.{ext}")).exists(),
            "secret.{ext} in {err}"
        );
    }
    assert!(
        err.contains("output `secret` has a token: not written; set [publish] private_dir to write it"),
        "{err}"
    );
    for stale in ["secret.rss", "secret.json"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("removed ") && l.contains(stale)),
            "{stale} in {err}"
        );
    }

    let path = write_config(dir.path(), &body("private_dir = \"private\"\n"));
    let out = run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let private = dir.path().join("private");
    for ext in ["rss", "atom", "json"] {
        assert!(private.join(format!("secret.{ext}")).is_file(), "{err}");
        assert!(!public.join(format!("secret.{ext}")).exists(), "{err}");
        assert!(!private.join(format!("all.{ext}")).exists(), "{err}");
    }
    assert!(err.contains("wrote 3 private files to"), "{err}");
    assert!(!err.contains("not written"), "{err}");
    let feed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(private.join("secret.json")).expect("json")).expect("json");
    assert_eq!(
        feed["feed_url"],
        format!("https://feeds.example/ff/feeds/secret.json?token={token}")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&private), 0o700);
        for ext in ["rss", "atom", "json"] {
            assert_eq!(
                mode(&private.join(format!("secret.{ext}"))),
                0o600,
                "secret.{ext}"
            );
        }
    }
}
