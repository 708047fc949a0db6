//! Command line: parses arguments, runs a library job, prints a summary, maps the result to an
//! exit code (0 ok, 1 some sources failed or a runtime error, 2 usage or config error).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use feedfold::config::Config;
use feedfold::redact;
use feedfold::run::{self, Outcome, SourceReport};
use feedfold::source::http::Fetcher;
use feedfold::store::Store;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// feedfold: fetch feeds, fold duplicate stories, republish merged feeds.
#[derive(Parser)]
#[command(version, about)]
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

#[derive(Subcommand)]
enum Command {
    /// Fetch every source once, store new items and write every output.
    Fetch {
        #[command(flatten)]
        config: ConfigArg,
        /// Folder for the outputs (default: `[publish] dir`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Validate the config and print every problem.
    Check {
        #[command(flatten)]
        config: ConfigArg,
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
        /// Address to listen on, overriding `[server] listen` (port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
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
        /// The item: its link, its URL as written in the feed, or its GUID.
        item: String,
    },
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Add the subscriptions of an OPML file (a feed reader's export) to the config, keeping
    /// its comments and layout; feeds already in it are skipped.
    Import {
        /// The OPML file.
        #[arg(value_name = "FILE.opml")]
        opml: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
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
    let config_path = match &cli.command {
        Command::Fetch { config, .. }
        | Command::Check { config }
        | Command::Export { config }
        | Command::Serve { config, .. }
        | Command::Sources {
            command: SourcesCommand::Import { config, .. },
        }
        | Command::Explain { config, .. } => &config.config,
    };
    if let Command::Sources {
        command: SourcesCommand::Import { opml, config },
    } = &cli.command
    {
        return import_sources(&config.config, opml);
    }
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", run::error_chain(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Check { .. } => {
            println!(
                "{}: ok ({} sources, {} outputs)",
                config.file.display(),
                config.sources.len(),
                config.outputs.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch { out, .. } => runtime().and_then(|rt| rt.block_on(fetch(&config, out))),
        Command::Export { .. } => runtime().and_then(|rt| rt.block_on(export(&config))),
        Command::Serve {
            listen,
            no_fetch,
            no_http,
            ..
        } => {
            let path = config_path.clone();
            let http = (!no_http).then(|| listen.unwrap_or(config.server.listen));
            runtime().and_then(|rt| rt.block_on(serve(path, config, http, !no_fetch)))
        }
        Command::Explain { item, .. } => runtime().and_then(|rt| rt.block_on(explain(&config, &item))),
        Command::Sources { .. } => unreachable!("handled before the config is loaded"),
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

async fn fetch(config: &Config, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.store.url).await?;
    let fetcher = Fetcher::new(&config.fetch).context("cannot build the HTTP client")?;
    let bar = ProgressBar::with_draw_target(Some(config.sources.len() as u64), ProgressDrawTarget::stderr());
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} sources {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let on_done = |r: &SourceReport| {
        bar.set_message(r.name.clone());
        bar.inc(1);
    };
    let now = chrono::Utc::now();
    let cycle = run::fetch_all(config, &store, &fetcher, now, &on_done).await;
    bar.finish_and_clear();
    let cycle = cycle?;
    let reports = cycle.reports;
    print_summary(&reports);
    if cycle.fold.items > 0 {
        eprintln!(
            "folded {} new items: {} joined stories already stored, {} new stories",
            cycle.fold.items, cycle.fold.joined, cycle.fold.stories
        );
    }
    let dir = out.unwrap_or_else(|| config.publish.dir.clone());
    let published = run::publish(config, &store, &dir, now).await?;
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
    // Retention, once the outputs are written: it never prunes what they show.
    let pruned = match feedfold::pipeline::prune::prune(&store, config, now).await {
        Ok(report) => {
            if report.items > 0 {
                eprintln!(
                    "pruned {} items older than their keep ({} stories gone)",
                    report.items, report.stories
                );
            }
            true
        }
        Err(e) => {
            eprintln!("pruning failed: {}", run::error_chain(&e));
            false
        }
    };
    store.close().await;
    let failed = reports.iter().filter(|r| r.failed()).count();
    Ok(if failed > 0 || !pruned {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(reports: &[SourceReport]) {
    let width = reports.iter().map(|r| r.name.chars().count()).max().unwrap_or(0);
    let (mut new, mut updated, mut failed, mut elsewhere) = (0, 0, 0, 0);
    for r in reports {
        let line = match &r.outcome {
            Outcome::Stored {
                counts,
                repaired,
                moved_to,
                dropped,
            } => {
                new += counts.new;
                updated += counts.updated;
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
            Outcome::Failed { error, .. } => {
                failed += 1;
                format!("FAILED     {error}")
            }
            Outcome::Elsewhere { holder } => {
                elsewhere += 1;
                format!("elsewhere  being fetched by {holder}")
            }
        };
        eprintln!("  {:width$}  {line}", r.name);
    }
    let by_others = if elsewhere > 0 {
        format!(", {elsewhere} fetched elsewhere")
    } else {
        String::new()
    };
    eprintln!(
        "{} sources: {} ok, {} failed{by_others}; {new} new items, {updated} updated",
        reports.len(),
        reports.len() - failed - elsewhere,
        failed
    );
}

/// `serve`: HTTP on `http` (None: `--no-http`), fetching unless `--no-fetch`.
async fn serve(
    path: PathBuf,
    config: Config,
    http: Option<std::net::SocketAddr>,
    fetch: bool,
) -> anyhow::Result<ExitCode> {
    use feedfold::serve::Role;
    use tokio::signal::unix::{SignalKind, signal};
    let role = match http {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
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

async fn explain(config: &Config, item: &str) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.store.url).await?;
    let Some(e) = feedfold::pipeline::explain::explain(&store, item, &config.fold).await? else {
        eprintln!("no stored item has the link, URL or GUID `{item}`");
        return Ok(ExitCode::from(1));
    };
    let title = e.title.as_deref().unwrap_or("(untitled)");
    println!("{title}");
    println!(
        "  source {}, {}",
        e.source,
        e.url.as_deref().map_or("(no link)".into(), redact::text)
    );
    println!("  story {}", e.story);
    println!(
        "  furniture: {} of {} body lines removed before comparing",
        e.removed, e.lines
    );
    let show = |n: &feedfold::pipeline::explain::Neighbour| {
        let s = &n.similarity;
        println!(
            "  - {} · {}",
            n.source,
            n.title.as_deref().unwrap_or("(untitled)")
        );
        println!(
            "    {}",
            n.url.as_deref().map_or("(no link)".into(), redact::text)
        );
        println!(
            "    jaccard {:.2}, containment {:.2}, title {:.2}, {:.1}h apart",
            s.jaccard, s.containment, s.title, s.hours_apart
        );
        if n.exact {
            println!("    same canonical URL or permalink GUID");
        }
        println!(
            "    {}: {}",
            if n.verdict.is_same() {
                "same story"
            } else {
                "apart"
            },
            n.verdict.reason()
        );
    };
    if e.members.is_empty() {
        println!("alone in its story.");
    } else {
        println!("{} other member(s):", e.members.len());
        e.members.iter().for_each(show);
    }
    if !e.nearest.is_empty() {
        println!("nearest candidates outside the story:");
        e.nearest.iter().for_each(show);
    } else if e.members.is_empty() {
        println!("no candidate shares a band key with it.");
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
