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
    for name in ["config/example.toml", "config/demo.toml", "config/starter.toml"] {
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
        let force = std::path::Path::new("--force");
        run_command("fetch", &path, &[std::path::Path::new("--out"), &out_dir, force]).await
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
    let (head, tail) = before.split_at(before.find("\n\n# One merged feed").expect("fixture") + 1);
    assert!(
        after.starts_with(head) && after.ends_with(tail),
        "the file's own text is kept"
    );
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

/// Runs `feedfold ARGS…` and waits for it (on a blocking thread, beside the origin).
async fn run_args(args: Vec<std::ffi::OsString>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        feedfold()
            .env_remove("FEEDFOLD_CONFIG")
            .args(args)
            .output()
            .expect("run")
    })
    .await
    .expect("join")
}

/// `feedfold ARGS…` as `OsString`s.
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$(std::ffi::OsString::from($a)),*] };
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_writes_a_starter_config_that_passes_check_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without --config: feedfold.toml in the current folder.
    let out = feedfold()
        .env_remove("FEEDFOLD_CONFIG")
        .arg("init")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let path = dir.path().join("feedfold.toml");
    let written = std::fs::read_to_string(&path).expect("written");
    for section in ["[store]", "[publish]", "[[source]]", "[[output]]", "# "] {
        assert!(written.contains(section), "{section} in\n{written}");
    }
    let check = feedfold()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("ok (1 sources, 1 outputs)"));

    std::fs::write(&path, "# mine\n").expect("write");
    let again = feedfold()
        .args(["init", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already exists: not overwritten"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "# mine\n");

    let other = dir.path().join("other.toml");
    let out = feedfold().args(["init", "-c"]).arg(&other).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&other).expect("read"), written);
}

#[tokio::test]
async fn sources_add_list_remove_keep_the_file_and_show_how_fetches_went() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("feeds.toml");
    std::fs::copy(crate::support::fixtures().join("opml/feeds.toml"), &config).expect("copy");
    let original = std::fs::read_to_string(&config).expect("read");
    let c = config.clone().into_os_string();

    let good = origin.url("/feeds/rss2.xml");
    let out = run_args(args![
        "sources", "add", "wire", &good, "--title", "The Wire", "-c", &c
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let added = std::fs::read_to_string(&config).expect("read");
    assert!(
        added.contains(&format!("name = \"wire\"  # The Wire\nurl = \"{good}\"\n")),
        "{added}"
    );
    for comment in [
        "# Wire services first.",
        "# region = \"310000\"",
        "# aligned on purpose",
        "# One merged feed",
    ] {
        assert!(added.contains(comment), "lost `{comment}`:\n{added}");
    }
    let check = run_args(args!["check", "-c", &c]).await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    // A name already there, or a URL the config check refuses: exit 2, nothing written.
    for (name, url, message) in [
        (
            "wire",
            "https://other.example/rss",
            "a source named `wire` is already in the config",
        ),
        ("new", "ftp://files.example/rss", "unsupported scheme `ftp`"),
        ("new", " ", "must not be empty"),
    ] {
        let out = run_args(args!["sources", "add", name, url, "-c", &c]).await;
        assert_eq!(out.status.code(), Some(2), "{name} {url}");
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
        assert_eq!(std::fs::read_to_string(&config).expect("read"), added);
    }
    let secret = format!(
        "http://alice:hunter2@{}/feeds/atom.xml?apikey=s3cr3t",
        origin.addr
    );
    let out = run_args(args!["sources", "add", "secret", &secret, "-c", &c]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let down = origin.url("/status/503");
    let out = run_args(args!["sources", "add", "down", &down, "-c", &c]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Before any fetch there is no store: names and URLs only, and no store is created.
    let list = run_args(args!["sources", "list", "-c", &c]).await;
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    let shown = text(&list.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 5, "{shown}");
    assert!(
        lines[2].starts_with("wire ") && lines[2].ends_with(&good),
        "{shown}"
    );
    assert!(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("/feeds/atom.xml?apikey=***"), "{shown}");
    assert!(!dir.path().join("feeds.db").exists());

    // After a fetch: how each source's last fetch went.
    let fetch = run_args(args!["fetch", "-c", &c, "--source", "wire", "--source", "down"]).await;
    assert_eq!(fetch.status.code(), Some(1), "{}", text(&fetch.stderr));
    let list = run_args(args!["sources", "list", "-c", &c]).await;
    let shown = text(&list.stdout);
    let line = |name: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {shown}"))
            .to_string()
    };
    assert!(
        line("wire").contains("  ok ") && line("wire").ends_with(", 3 items"),
        "{shown}"
    );
    assert!(
        line("down").contains("FAILED") && line("down").contains("HTTP 503"),
        "{shown}"
    );
    assert!(line("sixth-tone").ends_with("never fetched"), "{shown}");

    // Remove: an unknown name is exit 2 with the closest name; removing what was added gives
    // back the file byte for byte, its comments and layout included.
    let out = run_args(args!["sources", "remove", "wirre", "-c", &c]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no source is named `wirre`; did you mean `wire`?"),
        "{}",
        text(&out.stderr)
    );
    let out = run_args(args!["sources", "remove", "nothing-like-it", "-c", &c]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text(&out.stderr).contains("did you mean"),
        "{}",
        text(&out.stderr)
    );
    for name in ["down", "secret", "wire"] {
        let out = run_args(args!["sources", "remove", name, "-c", &c]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(std::fs::read_to_string(&config).expect("read"), original);
    // A source an output still lists is not removed: the result would not load.
    let out = run_args(args!["sources", "remove", "sixth-tone", "-c", &c]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no source is named `sixth-tone`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).expect("read"), original);
}

#[test]
fn sources_export_prints_opml_with_file_sources_as_absolute_file_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        dir.path(),
        "[[source]]\nname = \"local\"\nurl = \"feeds/local news.xml\"\n\n\
         [[source]]\nname = \"web\"\nurl = \"https://news.example/rss?token=abc\"\n",
    );
    let out = feedfold()
        .args(["sources", "export", "-c"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xml = text(&out.stdout);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"),
        "{xml}"
    );
    let file = url::Url::from_file_path(dir.path().join("feeds/local news.xml")).expect("file url");
    assert!(file.as_str().ends_with("/feeds/local%20news.xml"), "{file}");
    assert!(
        xml.contains(&format!("text=\"local\" type=\"rss\" xmlUrl=\"{file}\"")),
        "{xml}"
    );
    assert!(
        xml.contains("xmlUrl=\"https://news.example/rss?token=***\""),
        "{xml}"
    );
}

#[tokio::test]
async fn fetch_source_fetches_only_the_named_sources_then_publishes() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        dir.path(),
        &format!(
            "[[output]]\nname = \"all\"\ntitle = \"All\"\n\n{}",
            sources(&[
                ("rss2", origin.url("/feeds/rss2.xml")),
                ("atom", origin.url("/feeds/atom.xml")),
                ("big5", origin.url("/feeds/big5.xml")),
            ])
        ),
    );
    let c = path.into_os_string();
    let out = run_args(args!["fetch", "-c", &c, "--source", "atom", "--source", "rss2"]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(origin.hits("/feeds/rss2.xml"), 1);
    assert_eq!(origin.hits("/feeds/atom.xml"), 1);
    assert_eq!(origin.hits("/feeds/big5.xml"), 0, "{err}");
    assert!(err.contains("2 sources: 2 ok"), "{err}");
    assert!(!err.contains("big5"), "{err}");
    let feed = std::fs::read_to_string(dir.path().join("public/all.json")).expect("published");
    assert!(feed.contains("Tom & Jerry"), "{feed}");

    let out = run_args(args!["fetch", "-c", &c, "--source", "big-5"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no source named `big-5`; did you mean `big5`?"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(origin.hits("/feeds/big5.xml"), 0, "nothing ran");
}

#[tokio::test]
async fn quiet_prints_only_failures_and_json_one_summary_object() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = sources(&[("rss2", origin.url("/nocache/rss2.xml"))]);
    let down = sources(&[("down", origin.url("/status/503"))]);
    let output = "[[output]]\nname = \"all\"\ntitle = \"All\"\n\n";

    let path = write_config(dir.path(), &format!("{output}{good}"));
    let c = path.clone().into_os_string();
    let out = run_args(args!["fetch", "-c", &c, "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "", "quiet and all well: nothing");
    assert_eq!(text(&out.stdout), "");
    let out = run_args(args!["check", "-c", &c, "-q"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (Some(0), String::new(), String::new())
    );

    let out = run_args(args!["fetch", "-c", &c, "--json", "--force"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["ok"], true);
    assert_eq!(json["sources"][0]["name"], "rss2");
    assert_eq!(json["sources"][0]["status"], "ok");
    assert_eq!(json["sources"][0]["new"], 0, "stored by the run before");
    assert_eq!(json["sources"][0]["unchanged"], 3);

    let path = write_config(dir.path(), &format!("{output}{good}{down}"));
    let c = path.clone().into_os_string();
    let out = run_args(args!["fetch", "-c", &c, "--quiet"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("down") && lines[0].contains("FAILED") && lines[0].contains("HTTP 503"),
        "{err}"
    );

    let out = run_args(args!["fetch", "-c", &c, "--json", "--force"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "", "--json: no lines for people");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["ok"], false);
    assert_eq!(json["failed"], 1);
    let sources = json["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2);
    for s in sources {
        for key in ["name", "status", "new", "updated", "unchanged", "error"] {
            assert!(s.get(key).is_some(), "{key} in {s}");
        }
    }
    let down = sources.iter().find(|s| s["name"] == "down").expect("down");
    assert_eq!(down["status"], "failed");
    assert!(
        down["error"].as_str().expect("error").contains("HTTP 503"),
        "{down}"
    );
    assert_eq!(sources[0]["error"], serde_json::Value::Null);
    // Nothing new came: the outputs are as written by the run before.
    assert_eq!(json["written"], serde_json::json!([]), "{json}");

    // A bad config: exit 2, and with --json its problems as JSON.
    let bad = write_config(dir.path(), "[fetch]\ntimeout = \"soon\"\n");
    let c = bad.into_os_string();
    for command in ["check", "fetch"] {
        let out = run_args(args![command, "-c", &c, "--json"]).await;
        assert_eq!(out.status.code(), Some(2), "{command}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(json["ok"], false);
        assert_eq!(json["problems"][0]["line"], 5, "{json}");
        assert_eq!(json["problems"][0]["key"], "fetch.timeout", "{json}");
        let out = run_args(args![command, "-c", &c, "--quiet"]).await;
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            text(&out.stderr).contains("fetch.timeout"),
            "errors are printed with --quiet"
        );
    }
    let out = run_args(args!["fetch", "-c", &c, "--quiet", "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_the_exit_codes() {
    for command in [&["--help"][..], &["fetch", "--help"], &["check", "--help"]] {
        let out = feedfold().args(command).output().expect("run");
        let help = text(&out.stdout);
        assert!(
            help.contains("Exit status:") && help.contains("2  a usage or config error"),
            "{command:?}: {help}"
        );
    }
}

/// Each source's line is printed when that source is done, not after the slowest: a source
/// that never answers is listed first in the config, and the other's line comes while it hangs.
#[tokio::test]
async fn fetch_prints_each_source_as_it_finishes() {
    use std::io::BufRead;
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        dir.path(),
        &format!(
            "[fetch]\ntimeout = \"10m\"\nlease = \"20m\"\n\n{}",
            sources(&[
                ("hanging", origin.url("/hang")),
                ("quick", origin.url("/feeds/rss2.xml")),
            ])
        ),
    );
    let mut child = feedfold()
        .args(["fetch", "--config"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first line about a source (the config's warnings come before).
    let first = tokio::task::spawn_blocking(move || {
        loop {
            match lines.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(line) if line.contains(": warning: ") => continue,
                other => break other,
            }
        }
    })
    .await
    .expect("join");
    child.kill().expect("kill");
    child.wait().expect("wait");
    let first = first.expect("a line while a source still hangs");
    assert!(first.contains("quick") && first.contains("3 new"), "{first}");
}

/// `serve --listen` takes a host name, resolved when the daemon starts.
#[test]
fn serve_listens_on_a_host_name() {
    use std::io::{BufRead, Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "[[output]]\nname = \"all\"\ntitle = \"All\"\n");
    let mut child = feedfold()
        .args(["serve", "--no-fetch", "--listen", "localhost:0", "--config"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let address = loop {
        line.clear();
        if stderr.read_line(&mut line).expect("read") == 0 {
            panic!("the daemon ended without serving");
        }
        if let Some(url) = line.trim().strip_prefix("feedfold: serving on http://") {
            break url.trim_end_matches('/').to_string();
        }
    };
    let addr: std::net::SocketAddr = address.parse().expect("an address");
    assert!(addr.ip().is_loopback(), "{addr}");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    child.kill().expect("kill");
    child.wait().expect("wait");

    for bad in ["localhost", "localhost:http", ":8080"] {
        let out = feedfold()
            .args(["serve", "--listen", bad, "--config"])
            .arg(&path)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(text(&out.stderr).contains("expected HOST:PORT"), "{bad}");
    }
}

#[tokio::test]
async fn explain_takes_entry_ids_and_story_ids_and_survives_a_closed_pipe() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        dir.path(),
        &format!(
            "[[output]]\nname = \"all\"\ntitle = \"All\"\n\n\
             [[output]]\nname = \"every\"\ntitle = \"Every item\"\ndedup = \"off\"\n\n{}",
            sources(&[("rss2", origin.url("/feeds/rss2.xml"))])
        ),
    );
    let c = path.into_os_string();
    let out = run_args(args!["fetch", "-c", &c]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let explain = |reference: String| {
        let c = c.clone();
        async move {
            let out = run_args(args!["explain", "-c", &c, reference.clone()]).await;
            assert_eq!(out.status.code(), Some(0), "{reference}: {}", text(&out.stderr));
            text(&out.stdout)
        }
    };
    let items = |name: &str| -> Vec<serde_json::Value> {
        let feed: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("public/{name}.json"))).expect("published"),
        )
        .expect("json");
        feed["items"].as_array().expect("items").clone()
    };
    let story_of = |shown: &str| -> String {
        shown
            .lines()
            .find_map(|l| l.strip_prefix("  story "))
            .expect("a story line")
            .to_string()
    };
    for item in items("all") {
        let title = item["title"].as_str().expect("title").to_string();
        let id = item["id"].as_str().expect("id").to_string();
        assert!(id.starts_with("urn:feedfold:out:all:story:"), "{id}");
        let by_entry = explain(id.clone()).await;
        assert!(by_entry.starts_with(&format!("{title}\n")), "{id}: {by_entry}");
        let story = story_of(&by_entry);
        assert!(id.ends_with(&format!(":story:{story}")), "{id} / {story}");
        assert_eq!(explain(story.clone()).await, by_entry, "by story id {story}");
        let legacy = format!("urn:feedfold:story:{story}");
        assert_eq!(explain(legacy).await, by_entry);
    }
    for item in items("every") {
        let id = item["id"].as_str().expect("id").to_string();
        assert!(id.starts_with("urn:feedfold:out:every:item:"), "{id}");
        let shown = explain(id.clone()).await;
        assert!(
            shown.starts_with(item["title"].as_str().expect("title")),
            "{id}: {shown}"
        );
    }
    let out = run_args(args![
        "explain",
        "-c",
        &c,
        "urn:feedfold:out:all:story:st-0000000000000000"
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));

    // Standard output a pipe whose reader is gone (`feedfold explain X | head -1` after head
    // quit): no panic, exit 0.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let story = story_of(&explain(items("all")[0]["id"].as_str().expect("id").to_string()).await);
    let out = feedfold()
        .args(["explain", "-c"])
        .arg(&c)
        .arg(&story)
        .stdout(writer)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
}

/// An RSS feed with one story each about 香港, 台湾 and 澳门.
pub fn greater_china_feed() -> String {
    let item = |n: u32, title: &str, body: &str| {
        format!(
            "<item><title>{title}</title><link>http://gc.example/{n}</link><guid>http://gc.example/{n}</guid>\
             <pubDate>Mon, 0{n} Jan 2024 08:00:00 +0800</pubDate><description>{body}</description></item>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>GC</title>\
         <link>http://gc.example/</link>{}{}{}</channel></rss>",
        item(
            1,
            "香港特区政府公布新一轮消费券计划",
            "香港特别行政区政府今日宣布，新一轮电子消费券将于下月发放，香港市民可通过指定平台登记领取。"
        ),
        item(
            2,
            "台湾台北多地出现强降雨",
            "台湾台北、新北等地今日出现强降雨，台湾气象部门发布豪雨特报，提醒民众注意山区安全。"
        ),
        item(
            3,
            "澳门举办国际美食节",
            "澳门特别行政区第二十届国际美食节今日在澳门旅游塔开幕，澳门各界及游客踊跃参与。"
        ),
    )
}

/// `regions = ["HK"]`, `["TW"]`, `["MO"]`: the ISO codes name 香港, 台湾 and 澳门.
#[test]
fn region_codes_hk_tw_and_mo_filter_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("gc.xml"), greater_china_feed()).expect("write");
    let outputs: String = ["HK", "TW", "MO"]
        .iter()
        .map(|code| format!("[[output]]\nname = \"{code}\"\ntitle = \"{code}\"\nregions = [\"{code}\"]\n\n"))
        .collect();
    let path = write_config(
        dir.path(),
        &format!("{outputs}[[source]]\nname = \"gc\"\nurl = \"gc.xml\"\n"),
    );
    let out = feedfold().args(["fetch", "-c"]).arg(&path).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for (code, title, adcode) in [
        ("HK", "香港特区政府公布新一轮消费券计划", "81"),
        ("TW", "台湾台北多地出现强降雨", "71"),
        ("MO", "澳门举办国际美食节", "82"),
    ] {
        let feed: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("public/{code}.json"))).expect("published"),
        )
        .expect("json");
        let items = feed["items"].as_array().expect("items");
        let titles: Vec<&str> = items.iter().filter_map(|i| i["title"].as_str()).collect();
        assert_eq!(titles, [title], "{code}");
        let region = items[0]["_feedfold"]["regions"][0]["code"].as_str().unwrap_or("");
        assert!(region.starts_with(adcode), "{code}: {region}");
    }
}
