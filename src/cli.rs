//! Command line: parses arguments, runs a library job, prints a summary, maps the result to an
//! exit code (0 ok, 1 some sources failed or a runtime error, 2 usage or config error).
//!
//! What goes to standard output is data (`export`, `explain`, `sources list`, `sources export`,
//! `--json`); what goes to standard error is for people (progress, summaries, problems). Writing
//! into a closed pipe (`feedfold explain X | head -1`) ends quietly.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use feedfold::config::edit::{self, EditError, NewSource};
use feedfold::config::{Config, ConfigError};
use feedfold::redact;
use feedfold::run::{self, Outcome, SourceReport};
use feedfold::source::http::Fetcher;
use feedfold::store::{Store, Taking};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// The exit codes, as `--help` shows them.
const EXIT_STATUS: &str = "\
Exit status:
  0  success (fetch: every source fetched succeeded)
  1  a source failed, or a runtime error (the store, a file, the network)
  2  a usage or config error (nothing ran)";

/// feedfold: fetch feeds, fold duplicate stories, republish merged feeds.
#[derive(Parser)]
#[command(version, about, after_help = EXIT_STATUS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct ConfigArg {
    /// The TOML config file.
    #[arg(long, short, value_name = "FILE", env = "FEEDFOLD_CONFIG")]
    config: PathBuf,
}

/// How a command reports: lines for people, only failures, or one JSON object.
#[derive(Args, Clone, Copy)]
struct ReportArgs {
    /// Print only failures and errors.
    #[arg(long, short, conflicts_with = "json")]
    quiet: bool,
    /// Print one JSON object on standard output instead of lines: a summary, with one entry per
    /// source (`fetch`) or every problem (`check`).
    #[arg(long)]
    json: bool,
}

/// [`ReportArgs`] as one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Lines on standard error.
    Lines,
    /// Only failures and errors, on standard error.
    Quiet,
    /// One JSON object on standard output.
    Json,
}

impl ReportArgs {
    fn mode(self) -> Mode {
        match (self.quiet, self.json) {
            (_, true) => Mode::Json,
            (true, false) => Mode::Quiet,
            (false, false) => Mode::Lines,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented starter config (never over an existing file).
    Init {
        /// The file to write.
        #[arg(
            long,
            short,
            value_name = "FILE",
            env = "FEEDFOLD_CONFIG",
            default_value = "feedfold.toml"
        )]
        config: PathBuf,
    },
    /// Fetch every source that is due (or those named with --source), store new items, fold
    /// them and write every output.
    ///
    /// A source is due when its interval has passed since it was last fetched (longer when the
    /// feed's <ttl>, <skipHours> / <skipDays> or the server's Cache-Control ask for it, or
    /// after failures, the backoff or Retry-After): others are listed as "not due". A source
    /// whose server answered 410 Gone is listed as "gone" until `sources revive` or a new URL.
    #[command(after_help = EXIT_STATUS)]
    Fetch {
        #[command(flatten)]
        config: ConfigArg,
        /// Folder for the outputs (default: `[publish] dir`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Fetch every source now, due or not, gone or not.
        #[arg(long)]
        force: bool,
        /// Fetch only this source (repeat for several), due or not; the outputs are written as
        /// usual.
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Validate the config and print every problem.
    #[command(after_help = EXIT_STATUS)]
    Check {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Print every stored item as JSON Lines.
    Export {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run as a daemon: fetch every source on its schedule and serve the outputs over HTTP.
    /// SIGHUP re-reads the config; SIGTERM or Ctrl-C stops after fetches under way finish.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Address to listen on, overriding `[server] listen`: HOST:PORT, with an IP address
        /// or a host name resolved at startup (`localhost:8095`); port 0 picks a free port.
        #[arg(long, value_name = "HOST:PORT", value_parser = listen_address)]
        listen: Option<String>,
        /// Serve HTTP only: fetch nothing, serve what other daemons sharing the store fetch.
        #[arg(long, conflicts_with = "no_http")]
        no_fetch: bool,
        /// Fetch, store and fold only: no HTTP server.
        #[arg(long, conflicts_with = "listen")]
        no_http: bool,
    },
    /// Manage the config's sources.
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
    },
    /// Explain which story an item is in and why, or why it stands alone.
    Explain {
        #[command(flatten)]
        config: ConfigArg,
        /// The item: its link, its URL as written in the feed or its GUID; an entry id from an
        /// output; or a story id (as `explain` and `export` print it).
        item: String,
    },
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Add a source to the config, keeping its comments and layout.
    Add {
        /// Its unique name.
        name: String,
        /// Its feed: an http(s):// URL, a file:// URL or a path relative to the config.
        url: String,
        /// A title, written as a comment after the name.
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the sources: name, URL (credentials masked) and how the last fetch went.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove a source from the config, keeping its comments and layout.
    Remove {
        /// Its name.
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the sources as OPML 2.0, for a feed reader to import.
    Export {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Add the subscriptions of an OPML file (a feed reader's export) to the config, keeping
    /// its comments and layout; feeds already in it are skipped.
    Import {
        /// The OPML file.
        #[arg(value_name = "FILE.opml")]
        opml: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Fetch a source again whose server answered 410 Gone (and forget its failures): the next
    /// `fetch` or the daemon's next look fetches it.
    Revive {
        /// The source's name.
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// `HOST:PORT`, checked for its form; the host is resolved when the daemon starts.
fn listen_address(text: &str) -> Result<String, String> {
    let form = "expected HOST:PORT, like 127.0.0.1:8080, [::1]:8080 or localhost:8080";
    let (host, port) = text.rsplit_once(':').ok_or(form)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(form.to_string());
    }
    Ok(text.to_string())
}

/// Runs the command line.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        _ => "error",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        // Colour for a terminal only: log files and journald get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    feedfold::install_tls_provider();
    let (config_path, mode) = match &cli.command {
        Command::Init { config } => return init(config),
        Command::Sources { command } => return sources(command),
        Command::Fetch { config, report, .. } | Command::Check { config, report } => {
            (config.config.clone(), report.mode())
        }
        Command::Export { config } | Command::Serve { config, .. } | Command::Explain { config, .. } => {
            (config.config.clone(), Mode::Lines)
        }
    };
    let config = match Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => return config_error(&e, mode),
    };
    let result = match cli.command {
        Command::Check { .. } => Ok(check(&config, mode)),
        Command::Fetch {
            out, sources, force, ..
        } => {
            // Naming a source fetches it now, as forcing does.
            let taking = if force || !sources.is_empty() {
                Taking::Any
            } else {
                Taking::Due
            };
            print_warnings(&config, mode);
            return fetch_command(&config, out, &sources, taking, mode);
        }
        Command::Export { .. } => runtime().and_then(|rt| rt.block_on(export(&config))),
        Command::Serve {
            listen,
            no_fetch,
            no_http,
            ..
        } => {
            let path = config_path;
            let http = (!no_http).then(|| listen.unwrap_or_else(|| config.server.listen.to_string()));
            runtime().and_then(|rt| rt.block_on(serve(path, config, http, !no_fetch)))
        }
        Command::Explain { item, .. } => runtime().and_then(|rt| rt.block_on(explain(&config, &item))),
        Command::Init { .. } | Command::Sources { .. } => {
            unreachable!("handled before the config is loaded")
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Each cause once: a driver's error often repeats its source in its own message.
            eprintln!("error: {}", run::error_chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

/// Writes `text` to standard output. A reader that went away (`| head -1`) is not an error:
/// what it did not read is dropped.
fn print_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints one JSON object on standard output.
fn print_json(value: &impl Serialize) {
    let text = serde_json::to_string_pretty(value).expect("a JSON summary always serialises");
    if let Err(e) = print_stdout(&format!("{text}\n")) {
        eprintln!("error: cannot write to standard output: {e}");
    }
}

/// One problem of a config, in `--json` output.
#[derive(Serialize)]
struct ProblemJson<'a> {
    line: Option<usize>,
    key: &'a str,
    message: &'a str,
}

/// `check --json`, and any command's config or usage error with `--json`.
#[derive(Serialize)]
struct CheckJson<'a> {
    ok: bool,
    file: String,
    sources: usize,
    outputs: usize,
    error: Option<String>,
    problems: Vec<ProblemJson<'a>>,
    /// What loads but may not be meant (a config without outputs …).
    warnings: Vec<String>,
}

/// A config that cannot be used: every problem on standard error (or as JSON), exit 2.
fn config_error(e: &ConfigError, mode: Mode) -> ExitCode {
    if mode == Mode::Json {
        let (file, problems) = match e {
            ConfigError::Invalid { file, problems } => (file, problems.as_slice()),
            ConfigError::Read { file, .. } => (file, &[][..]),
        };
        print_json(&CheckJson {
            ok: false,
            file: file.display().to_string(),
            sources: 0,
            outputs: 0,
            error: Some(run::error_chain(e)),
            problems: problems
                .iter()
                .map(|p| ProblemJson {
                    line: p.line,
                    key: &p.key,
                    message: &p.message,
                })
                .collect(),
            warnings: Vec::new(),
        });
    } else {
        eprintln!("{}", run::error_chain(e));
    }
    ExitCode::from(2)
}

/// A usage error found after parsing (an unknown `--source`): exit 2.
fn usage_error(message: &str, mode: Mode) -> ExitCode {
    if mode == Mode::Json {
        print_json(&serde_json::json!({ "ok": false, "error": message }));
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(2)
}

/// `check` on a config that loaded.
fn check(config: &Config, mode: Mode) -> ExitCode {
    print_warnings(config, mode);
    match mode {
        Mode::Lines => println!(
            "{}: ok ({} sources, {} outputs)",
            config.file.display(),
            config.sources.len(),
            config.outputs.len()
        ),
        Mode::Quiet => {}
        Mode::Json => print_json(&CheckJson {
            ok: true,
            file: config.file.display().to_string(),
            sources: config.sources.len(),
            outputs: config.outputs.len(),
            error: None,
            problems: Vec::new(),
            warnings: config.warnings.clone(),
        }),
    }
    ExitCode::SUCCESS
}

/// The config's warnings on standard error (not with `--quiet` or `--json`).
fn print_warnings(config: &Config, mode: Mode) {
    if mode == Mode::Lines {
        for warning in &config.warnings {
            eprintln!("{}: warning: {warning}", config.file.display());
        }
    }
}

/// `init`: exit 0 when the starter config is written, 2 when the file exists, 1 when it cannot
/// be written.
fn init(path: &Path) -> ExitCode {
    match edit::init(path) {
        Ok(()) => {
            eprintln!(
                "wrote {}: a starter config. Put your feeds in its [[source]] (or use \
                 `feedfold sources add`), then run `feedfold check --config {0}` and \
                 `feedfold fetch --config {0}`.",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => edit_error(&e),
    }
}

/// An error editing the config: 1 when it could not be written, else 2 (nothing was written).
fn edit_error(e: &EditError) -> ExitCode {
    eprintln!("{}", run::error_chain(e));
    match e {
        EditError::Write { .. } => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

/// `sources …`.
fn sources(command: &SourcesCommand) -> ExitCode {
    match command {
        SourcesCommand::Import { opml, config } => import_sources(&config.config, opml),
        SourcesCommand::Add {
            name,
            url,
            title,
            config,
        } => {
            let source = NewSource {
                name: name.clone(),
                url: url.clone(),
                heading: None,
                note: title.clone(),
            };
            match edit::add_source(&config.config, source) {
                Ok(_) => {
                    eprintln!(
                        "{}: added {}  {}",
                        config.config.display(),
                        name.trim(),
                        redact::text(url.trim())
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => edit_error(&e),
            }
        }
        SourcesCommand::Remove { name, config } => match edit::remove_source(&config.config, name) {
            Ok(_) => {
                eprintln!("{}: removed {}", config.config.display(), name.trim());
                ExitCode::SUCCESS
            }
            Err(e) => edit_error(&e),
        },
        SourcesCommand::Revive { name, config } => {
            let loaded = match Config::load(&config.config) {
                Ok(c) => c,
                Err(e) => return config_error(&e, Mode::Lines),
            };
            runtime()
                .and_then(|rt| rt.block_on(revive(&loaded, name)))
                .unwrap_or_else(|e| {
                    eprintln!("error: {}", run::error_chain(e.as_ref()));
                    ExitCode::from(1)
                })
        }
        SourcesCommand::List { config } | SourcesCommand::Export { config } => {
            let loaded = match Config::load(&config.config) {
                Ok(c) => c,
                Err(e) => return config_error(&e, Mode::Lines),
            };
            let result = if matches!(command, SourcesCommand::List { .. }) {
                runtime().and_then(|rt| rt.block_on(list_sources(&loaded)))
            } else {
                let opml = feedfold::opml::export(&loaded, "feedfold sources");
                print_stdout(&opml)
                    .map(|()| ExitCode::SUCCESS)
                    .context("cannot write to standard output")
            };
            result.unwrap_or_else(|e| {
                eprintln!("error: {}", run::error_chain(e.as_ref()));
                ExitCode::from(1)
            })
        }
    }
}

/// `sources list`: one line per source, with how its last fetch went when the store exists
/// (it is not created). Exit 1 when the store exists but cannot be read (the sources are listed
/// anyway).
async fn list_sources(config: &Config) -> anyhow::Result<ExitCode> {
    let exists = config.store.sqlite_file().is_none_or(|file| file.exists());
    let mut code = ExitCode::SUCCESS;
    let statuses = if exists {
        match read_statuses(config).await {
            Ok(statuses) => Some(statuses),
            Err(e) => {
                eprintln!("error: {}", run::error_chain(e.as_ref()));
                code = ExitCode::from(1);
                None
            }
        }
    } else {
        None
    };
    let rows: Vec<[String; 3]> = config
        .sources
        .iter()
        .map(|s| {
            let status = match &statuses {
                None => String::new(),
                Some(all) => match all.get(&s.name) {
                    None => "never fetched".to_string(),
                    Some(st) => fetch_status(st),
                },
            };
            [s.name.clone(), s.location.to_string(), status]
        })
        .collect();
    let width = |col: usize| rows.iter().map(|r| r[col].chars().count()).max().unwrap_or(0);
    let (name_width, url_width) = (width(0), width(1));
    let mut text = String::new();
    for [name, url, status] in &rows {
        let line = format!("{name:name_width$}  {url:url_width$}  {status}");
        text.push_str(line.trim_end());
        text.push('\n');
    }
    print_stdout(&text).context("cannot write to standard output")?;
    Ok(code)
}

async fn read_statuses(
    config: &Config,
) -> anyhow::Result<std::collections::HashMap<String, feedfold::store::SourceStatus>> {
    let store = Store::open(&config.store.url).await?;
    let statuses = store.source_statuses().await?;
    store.close().await;
    Ok(statuses)
}

/// How a source's last fetch went: `ok 2024-05-01 10:00 UTC, 12 items` and the like.
fn fetch_status(st: &feedfold::store::SourceStatus) -> String {
    use feedfold::store::FetchStatus;
    let when = st
        .last_fetch
        .map_or(String::new(), |t| format!(" {}", t.format("%Y-%m-%d %H:%M UTC")));
    let items = format!(", {} items", st.items);
    match st.last_status {
        Some(FetchStatus::Stored) => format!("ok{when}{items}"),
        Some(FetchStatus::NotModified) => format!("not modified{when}{items}"),
        Some(FetchStatus::Failed) => format!(
            "FAILED{when}: {}",
            redact::text(st.last_error.as_deref().unwrap_or("unknown error"))
        ),
        None => "never fetched".to_string(),
    }
}

/// `sources import`: exit 0 when the config is written or nothing was new, 2 when the config
/// or the OPML file cannot be used (nothing is written).
fn import_sources(config: &std::path::Path, opml: &std::path::Path) -> ExitCode {
    match feedfold::opml::import_file(config, opml) {
        Ok(import) => {
            for a in &import.added {
                eprintln!("  added    {}  {}", a.name, redact::text(&a.url));
            }
            for s in &import.skipped {
                eprintln!("  skipped  {}  {} ({})", s.name, redact::text(&s.url), s.reason);
            }
            for r in &import.rejected {
                eprintln!("  rejected {} ({})", r.text, r.reason);
            }
            eprintln!(
                "{}: {} added, {} skipped, {} rejected",
                config.display(),
                import.added.len(),
                import.skipped.len(),
                import.rejected.len()
            );
            ExitCode::SUCCESS
        }
        Err(feedfold::opml::OpmlError::Config(e @ EditError::Write { .. })) => edit_error(&e),
        Err(e) => {
            eprintln!("{}", run::error_chain(&e));
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `sources revive`: exit 0 when revived, 2 when the config has no such source.
async fn revive(config: &Config, name: &str) -> anyhow::Result<ExitCode> {
    if !config.sources.iter().any(|s| s.name == name) {
        let hint = edit::closest(name, config.sources.iter().map(|s| s.name.as_str()))
            .map_or(String::new(), |n| format!("; did you mean `{n}`?"));
        eprintln!("{}: no source named `{name}`{hint}", config.file.display());
        return Ok(ExitCode::from(2));
    }
    let store = Store::open(&config.store.url).await?;
    let known = store.revive(name).await?;
    store.close().await;
    if known {
        eprintln!("{name}: revived; the next fetch fetches it");
    } else {
        eprintln!("{name}: never fetched; nothing to revive");
    }
    Ok(ExitCode::SUCCESS)
}

/// One source in `fetch --json`.
#[derive(Serialize)]
struct SourceJson {
    name: String,
    /// `ok`, `not_modified`, `failed`, `elsewhere` (another process was fetching it), `not_due`
    /// or `gone` (skipped: not due yet, or the server said 410 Gone).
    status: &'static str,
    new: usize,
    updated: usize,
    unchanged: usize,
    error: Option<String>,
}

impl SourceJson {
    fn of(r: &SourceReport) -> SourceJson {
        let (status, counts, error) = match &r.outcome {
            Outcome::Stored { counts, .. } => ("ok", Some(counts), None),
            Outcome::NotModified => ("not_modified", None, None),
            Outcome::Failed { error, .. } => ("failed", None, Some(error.clone())),
            Outcome::Elsewhere { holder } => ("elsewhere", None, Some(format!("being fetched by {holder}"))),
            Outcome::NotDue { until } => ("not_due", None, Some(format!("due at {}", until.to_rfc3339()))),
            Outcome::Gone => ("gone", None, Some("the server answered 410 Gone".to_string())),
        };
        SourceJson {
            name: r.name.clone(),
            status,
            new: counts.map_or(0, |c| c.new),
            updated: counts.map_or(0, |c| c.updated),
            unchanged: counts.map_or(0, |c| c.unchanged),
            error,
        }
    }
}

/// `fetch --json`: the whole run.
#[derive(Serialize, Default)]
struct FetchJson {
    /// Every fetched source succeeded and nothing else failed (exit 0).
    ok: bool,
    sources: Vec<SourceJson>,
    /// Sources that failed.
    failed: usize,
    /// Items stored new and updated, over every source.
    new: usize,
    updated: usize,
    /// What the folding pass did: items folded, of them joining stored stories, new stories.
    folded: Option<serde_json::Value>,
    /// Files written, public and private.
    written: Vec<String>,
    written_private: Vec<String>,
    /// Token-protected outputs not written for want of `[publish] private_dir`.
    skipped_outputs: Vec<String>,
    /// Items pruned as older than their `keep`.
    pruned: usize,
    /// A runtime error that stopped the run (the sources reported before it are above).
    error: Option<String>,
}

/// `fetch`: checks `--source` names, then runs and reports as `mode` says.
fn fetch_command(
    config: &Config,
    out: Option<PathBuf>,
    only: &[String],
    taking: Taking,
    mode: Mode,
) -> ExitCode {
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    for name in only {
        if !names.contains(&name.as_str()) {
            let hint = edit::closest(name, names.iter().copied())
                .map_or(String::new(), |n| format!("; did you mean `{n}`?"));
            return usage_error(
                &format!(
                    "--source: {} has no source named `{name}`{hint}",
                    config.file.display()
                ),
                mode,
            );
        }
    }
    let only: Vec<&str> = if only.is_empty() {
        names
    } else {
        names
            .into_iter()
            .filter(|n| only.iter().any(|o| o == n))
            .collect()
    };
    let mut summary = FetchJson::default();
    let result = runtime().and_then(|rt| rt.block_on(fetch(config, out, &only, taking, mode, &mut summary)));
    summary.failed = summary.sources.iter().filter(|s| s.status == "failed").count();
    summary.ok = result.is_ok() && summary.failed == 0;
    let error = result.err().map(|e| run::error_chain(e.as_ref()));
    match (mode, &error) {
        (Mode::Json, _) => {
            summary.error = error.clone();
            print_json(&summary);
        }
        (_, Some(e)) => eprintln!("error: {e}"),
        (_, None) => {}
    }
    if summary.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Fetches the sources in `only`, prints a line for each as it finishes (unless `--json`; with
/// `--quiet`, failures only), folds, publishes, and fills in `summary` as it goes.
async fn fetch(
    config: &Config,
    out: Option<PathBuf>,
    only: &[&str],
    taking: Taking,
    mode: Mode,
    summary: &mut FetchJson,
) -> anyhow::Result<()> {
    let store = Store::open(&config.store.url).await?;
    let fetcher = Fetcher::new(&config.fetch).context("cannot build the HTTP client")?;
    let bar = ProgressBar::with_draw_target(Some(only.len() as u64), ProgressDrawTarget::stderr());
    if mode == Mode::Lines && std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} sources {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let width = only.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    // Each source's line as soon as it is done, above the progress bar.
    let on_done = |r: &SourceReport| {
        bar.set_message(r.name.clone());
        bar.inc(1);
        let shown = match mode {
            Mode::Lines => true,
            Mode::Quiet => r.failed(),
            Mode::Json => false,
        };
        if shown {
            bar.suspend(|| eprintln!("  {:width$}  {}", r.name, source_line(r)));
        }
    };
    let now = chrono::Utc::now();
    let cycle = run::fetch_only(config, only, &store, &fetcher, now, taking, &on_done).await;
    bar.finish_and_clear();
    let cycle = cycle?;
    summary.sources = cycle.reports.iter().map(SourceJson::of).collect();
    summary.new = summary.sources.iter().map(|s| s.new).sum();
    summary.updated = summary.sources.iter().map(|s| s.updated).sum();
    summary.folded = Some(serde_json::json!({
        "items": cycle.fold.items,
        "joined": cycle.fold.joined,
        "stories": cycle.fold.stories,
    }));
    let lines = mode == Mode::Lines;
    if lines {
        print_totals(&cycle.reports);
        if cycle.fold.items > 0 {
            eprintln!(
                "folded {} new items: {} joined stories already stored, {} new stories",
                cycle.fold.items, cycle.fold.joined, cycle.fold.stories
            );
        }
    }
    let dir = out.unwrap_or_else(|| config.publish.dir.clone());
    let published = run::publish(config, &store, &dir, now).await?;
    let shown = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect();
    summary.written = shown(&published.written);
    summary.written_private = shown(&published.written_private);
    summary.skipped_outputs = published.skipped.clone();
    if lines {
        for (name, path) in &published.removed {
            eprintln!(
                "removed {}: output `{name}` has a token, and files in {} are public",
                path.display(),
                dir.display()
            );
        }
        for name in &published.skipped {
            eprintln!("output `{name}` has a token: not written; set [publish] private_dir to write it");
        }
        eprintln!("wrote {} files to {}", published.written.len(), dir.display());
        if let Some(private) = config
            .publish
            .private_dir
            .as_ref()
            .filter(|_| !published.written_private.is_empty())
        {
            eprintln!(
                "wrote {} private files to {}",
                published.written_private.len(),
                private.display()
            );
        }
    }
    // Retention, once the outputs are written: it never prunes what they show.
    let pruned = feedfold::pipeline::prune::prune(&store, config, now).await;
    store.close().await;
    let report = pruned.context("pruning failed")?;
    summary.pruned = report.items;
    if lines && report.items > 0 {
        eprintln!(
            "pruned {} items older than their keep ({} stories gone)",
            report.items, report.stories
        );
    }
    Ok(())
}

/// What happened to one source, after its name.
fn source_line(r: &SourceReport) -> String {
    match &r.outcome {
        Outcome::Stored {
            counts,
            repaired,
            moved_to,
            dropped,
        } => {
            let mut line = format!(
                "ok         {} new, {} updated, {} unchanged",
                counts.new, counts.updated, counts.unchanged
            );
            if *repaired {
                line.push_str(" (repaired malformed XML)");
            }
            if *dropped > 0 {
                line.push_str(&format!(" ({dropped} items beyond [fetch] max_items dropped)"));
            }
            if let Some(to) = moved_to {
                line.push_str(&format!(" (moved permanently to {})", redact::text(to)));
            }
            line
        }
        Outcome::NotModified => "unchanged  not modified (304)".to_string(),
        Outcome::Failed { error, .. } => format!("FAILED     {error}"),
        Outcome::Elsewhere { holder } => format!("elsewhere  being fetched by {holder}"),
        Outcome::NotDue { until } => format!(
            "not due    until {} (--force fetches it now)",
            until.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Outcome::Gone => format!(
            "gone       the server answered 410 Gone; `feedfold sources revive {}` fetches it again",
            r.name
        ),
    }
}

/// The line after the sources' lines: how many succeeded and what they brought.
fn print_totals(reports: &[SourceReport]) {
    let (mut new, mut updated, mut failed, mut elsewhere, mut skipped) = (0, 0, 0, 0, 0);
    for r in reports {
        match &r.outcome {
            Outcome::Stored { counts, .. } => {
                new += counts.new;
                updated += counts.updated;
            }
            Outcome::NotModified => {}
            Outcome::Failed { .. } => failed += 1,
            Outcome::Elsewhere { .. } => elsewhere += 1,
            Outcome::NotDue { .. } | Outcome::Gone => skipped += 1,
        }
    }
    let mut others = String::new();
    if elsewhere > 0 {
        others.push_str(&format!(", {elsewhere} fetched elsewhere"));
    }
    if skipped > 0 {
        others.push_str(&format!(", {skipped} not due or gone"));
    }
    eprintln!(
        "{} sources: {} ok, {} failed{others}; {new} new items, {updated} updated",
        reports.len(),
        reports.len() - failed - elsewhere - skipped,
        failed
    );
}

/// `serve`: HTTP on `http` (`HOST:PORT`; None: `--no-http`), fetching unless `--no-fetch`.
async fn serve(path: PathBuf, config: Config, http: Option<String>, fetch: bool) -> anyhow::Result<ExitCode> {
    use feedfold::serve::Role;
    use tokio::signal::unix::{SignalKind, signal};
    let role = match http {
        Some(addr) => {
            let listener = listen(&addr).await?;
            let bound = listener
                .local_addr()
                .context("cannot read the listening address")?;
            eprintln!("feedfold: serving on http://{bound}/");
            if fetch {
                Role::Both(listener)
            } else {
                Role::Web(listener)
            }
        }
        None => {
            eprintln!("feedfold: fetching only (--no-http)");
            Role::Worker
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::spawn(async move {
        loop {
            let signal = tokio::select! {
                _ = hangup.recv() => feedfold::serve::Signal::Reload,
                _ = terminate.recv() => feedfold::serve::Signal::Shutdown,
                _ = tokio::signal::ctrl_c() => feedfold::serve::Signal::Shutdown,
            };
            if tx.send(signal).await.is_err() {
                break;
            }
        }
    });
    feedfold::serve::run(path, config, role, rx).await?;
    eprintln!("feedfold: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Binds `addr` (`HOST:PORT`), its host resolved now: the first of its addresses that can be
/// bound (`localhost` is often `::1` and `127.0.0.1`).
async fn listen(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}: the host cannot be resolved"))?
        .collect();
    let mut last = None;
    for candidate in &resolved {
        match tokio::net::TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some((candidate, e)),
        }
    }
    match last {
        Some((candidate, e)) => Err(e).with_context(|| format!("cannot listen on {addr} ({candidate})")),
        None => anyhow::bail!("cannot listen on {addr}: the host has no address"),
    }
}

async fn export(config: &Config) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.store.url).await?;
    let stdout = std::io::stdout();
    let mut lock = std::io::BufWriter::new(stdout.lock());
    match run::export(&store, &mut lock).await {
        Ok(_) => {}
        Err(run::RunError::Write { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e.into()),
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Which text `explain` says was compared.
fn compared(c: &feedfold::pipeline::explain::Compared) -> String {
    use feedfold::pipeline::explain::Compared;
    match c {
        Compared::Feed => "the feed's text".to_string(),
        Compared::Page { url } => format!("the article of its page, {} (full text)", redact::text(url)),
        Compared::PageFailed { url, error, next_try } => format!(
            "the feed's text: its page {} failed ({error}){}",
            redact::text(url),
            next_try.map_or(String::new(), |t| format!(
                "; tried again after {}",
                t.format("%Y-%m-%d %H:%M UTC")
            ))
        ),
    }
}

async fn explain(config: &Config, item: &str) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.store.url).await?;
    let found = feedfold::pipeline::explain::explain(&store, item, &config.fold).await;
    store.close().await;
    let Some(e) = found? else {
        eprintln!(
            "no stored item has the link, URL or GUID `{item}`, and no story or output entry has that id"
        );
        return Ok(ExitCode::from(1));
    };
    let link = |url: &Option<String>| -> String {
        url.as_deref()
            .map_or("(no link)".into(), |u| redact::text(u).into_owned())
    };
    let mut lines = vec![
        e.title.as_deref().unwrap_or("(untitled)").to_string(),
        format!("  source {}, {}", e.source, link(&e.url)),
        format!("  story {}", e.story),
        format!("  compared: {}", compared(&e.compared)),
        format!(
            "  furniture: {} of {} body lines removed before comparing",
            e.removed, e.lines
        ),
    ];
    let show = |lines: &mut Vec<String>, n: &feedfold::pipeline::explain::Neighbour| {
        let s = &n.similarity;
        lines.push(format!(
            "  - {} · {}",
            n.source,
            n.title.as_deref().unwrap_or("(untitled)")
        ));
        lines.push(format!("    {}", link(&n.url)));
        lines.push(format!(
            "    jaccard {:.2}, containment {:.2}, title {:.2}, {:.1}h apart",
            s.jaccard, s.containment, s.title, s.hours_apart
        ));
        if n.exact {
            lines.push("    same canonical URL or permalink GUID".to_string());
        }
        let verdict = if n.verdict.is_same() {
            "same story"
        } else {
            "apart"
        };
        lines.push(format!("    {verdict}: {}", n.verdict.reason()));
    };
    if e.members.is_empty() {
        lines.push("alone in its story.".to_string());
    } else {
        lines.push(format!("{} other member(s):", e.members.len()));
        for n in &e.members {
            show(&mut lines, n);
        }
    }
    if !e.nearest.is_empty() {
        lines.push("nearest candidates outside the story:".to_string());
        for n in &e.nearest {
            show(&mut lines, n);
        }
    } else if e.members.is_empty() {
        lines.push("no candidate shares a band key with it.".to_string());
    }
    lines.push(String::new());
    print_stdout(&lines.join("\n")).context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
}
