//! Full text: each new item's page fetched for its article, for the sources that want it.
//!
//! In: a source's config, its items as the feed (or list page) gave them, the store's snapshot
//! of them, the HTTP client, the page [`Limits`] (`[fetch] full_text_concurrency` in all,
//! `per_host` per host, shared by every source of the process) and the time. Out: the items
//! with their pages' articles as their content (the feed's summary kept as the summary), the
//! [`PageRow`]s to record with them, and the page fetches counted by result ([`PageCounts`]).
//!
//! Which pages are fetched: the page of a new item the source's `full_text` asks for (`always`,
//! or `auto` when its text is shorter than `[fetch] full_text_min_chars`); the page of a failed
//! item whose `next_try` has come; and, with its validators, the page of an item the feed has
//! changed (a 304 keeps the article). Every other item is read with the article stored for it,
//! so an item and its page are never fetched again while neither changes, and an item the
//! feed lists again hashes as it did. A page that fails (the address guard, a timeout, a cap,
//! an HTTP error, no article on it) leaves its item with the feed's text and is tried again
//! after the source's backoff ([`Policy::after_failure`]): the other items and the source are
//! not held back.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use url::Url;

use crate::config::{Config, FullText, SourceConfig};
use crate::html;
use crate::model::Item;
use crate::schedule::{Limits, Policy, jitter_at};
use crate::source::http::{FetchError, Fetched, Fetcher, Validators};
use crate::source::page::{self, Article, PageError};
use crate::store::{PageRow, PageStatus, Snapshot, Store, StoreError, item_hash, item_id};

/// Page fetches by result: `ok`, `not_modified`, or why one failed (a
/// [`FetchError::reason`] such as `timeout`, `too_large`, `private_address`, or
/// `no_article`).
pub type PageCounts = BTreeMap<&'static str, usize>;

/// What [`dress`] made of a fetch's items.
#[derive(Debug, Default)]
pub struct Dressed {
    /// The pages to record with the items.
    pub pages: Vec<PageRow>,
    /// The page fetches, by result.
    pub counts: PageCounts,
}

/// Why a page gave no article.
#[derive(Debug, thiserror::Error)]
enum PageFailure {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("page {url}: {error}")]
    Extract {
        url: String,
        #[source]
        error: PageError,
    },
}

impl PageFailure {
    fn reason(&self) -> &'static str {
        match self {
            PageFailure::Fetch(e) => e.reason(),
            PageFailure::Extract { .. } => "no_article",
        }
    }
}

/// Makes `article` an item's content, keeping what the feed gave as its summary (its content
/// when it gave no summary).
fn with_article(item: &mut Item, article: &str) {
    if item.summary.is_none() {
        item.summary = item.content.take();
    }
    item.content = Some(article.to_string());
}

/// Whether `source` wants the article of a new `item`.
fn wanted(cfg: &Config, source: &SourceConfig, item: &Item) -> bool {
    match source.full_text {
        FullText::Always => true,
        FullText::Never => false,
        FullText::Auto => {
            let text = item.content.as_deref().or(item.summary.as_deref()).unwrap_or("");
            html::to_text(text).chars().count() < cfg.fetch.full_text_min_chars
        }
    }
}

/// One page to fetch.
struct Job {
    id: i64,
    url: Url,
    title: Option<String>,
    /// What is stored of it (a changed item's, or a failed one's).
    stored: Option<PageRow>,
}

/// What became of a job's page: its article and validators, or `None` when it was not modified
/// since the stored page's validators.
type Read = Result<Option<(Article, Validators)>, PageFailure>;

/// Fetches and reads one job's page (see [`read_page`]).
async fn read<'j>(
    job: &'j Job,
    cfg: &Config,
    source: &SourceConfig,
    fetcher: &Fetcher,
    limits: &Limits,
    source_url: Option<&Url>,
) -> (&'j Job, Read) {
    (
        job,
        read_page(job, cfg, source, fetcher, limits, source_url).await,
    )
}

/// Fetches and reads one page, holding a page slot of its host while it is fetched.
async fn read_page(
    job: &Job,
    cfg: &Config,
    source: &SourceConfig,
    fetcher: &Fetcher,
    limits: &Limits,
    source_url: Option<&Url>,
) -> Read {
    let validators = job
        .stored
        .as_ref()
        .filter(|p| p.status == PageStatus::Read)
        .map(|p| p.validators.clone())
        .unwrap_or_default();
    let host = job.url.host_str().unwrap_or("").to_ascii_lowercase();
    let fetched = {
        let _slot = limits.acquire(&host).await;
        fetcher
            .fetch_page(
                &job.url,
                source_url,
                &validators,
                cfg.allow_private_of(source),
                &source.request,
            )
            .await?
    };
    let (bytes, charset, final_url, validators) = match fetched {
        Fetched::Body {
            bytes,
            charset,
            final_url,
            validators,
            ..
        } => (bytes, charset, final_url, validators),
        Fetched::NotModified { .. } if validators != Validators::default() => return Ok(None),
        // A 304 to a request without validators: nothing to keep.
        Fetched::NotModified { .. } => {
            return Err(PageFailure::Extract {
                url: crate::redact::Shown(&job.url).to_string(),
                error: PageError::NoArticle,
            });
        }
    };
    let (title, rules) = (job.title.clone(), source.page_rules.clone());
    let url = final_url.unwrap_or_else(|| job.url.clone());
    let shown = crate::redact::Shown(&url).to_string();
    // Parsing and readability are CPU work: off the fetching tasks' threads.
    let article = tokio::task::spawn_blocking(move || {
        page::extract(&bytes, charset.as_deref(), Some(&url), title.as_deref(), &rules)
    })
    .await
    .unwrap_or(Err(PageError::NoArticle))
    .map_err(|error| PageFailure::Extract { url: shown, error })?;
    Ok(Some((article, validators)))
}

/// Gives `items` of `source` (as stored in `snapshot`) the articles of their pages, fetching
/// those that need it (see the module documentation); `source_url` is the source's own URL.
#[allow(clippy::too_many_arguments)]
pub async fn dress(
    cfg: &Config,
    source: &SourceConfig,
    store: &Store,
    fetcher: &Fetcher,
    limits: &Limits,
    source_url: Option<&Url>,
    items: &mut [Item],
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> Result<Dressed, StoreError> {
    if source.full_text == FullText::Never || items.is_empty() {
        return Ok(Dressed::default());
    }
    let ids: Vec<i64> = items.iter().map(|i| item_id(&source.name, &i.key)).collect();
    let mut stored = store.pages(&ids).await?;
    let mut at: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        at.entry(*id).or_default().push(i);
    }
    let mut jobs: Vec<Job> = Vec::new();
    for (i, item) in items.iter_mut().enumerate() {
        let id = ids[i];
        if at[&id].last() != Some(&i) {
            continue; // An earlier copy of a key the feed lists again: its last copy decides.
        }
        let Some(url) = item
            .link
            .as_deref()
            .and_then(|l| Url::parse(l).ok())
            .filter(html::is_web_url)
        else {
            continue;
        };
        let known = snapshot.stored.get(item.key.as_str()).map(|(hash, _)| *hash);
        let page = stored.remove(&id);
        let fetch = match &page {
            Some(p) if p.status == PageStatus::Read => {
                let mut dressed = item.clone();
                with_article(&mut dressed, p.article.as_deref().unwrap_or(""));
                // The feed changed the item since its page was read: ask for the page again.
                let changed = known.is_some_and(|h| h != item_hash(&dressed));
                *item = dressed;
                changed
            }
            Some(p) => p.next_try.is_none_or(|t| t <= now),
            None => known.is_none() && wanted(cfg, source, item),
        };
        if fetch {
            jobs.push(Job {
                id,
                url,
                title: item.title.clone(),
                stored: page,
            });
        }
    }
    let policy = Policy::from_config(&cfg.fetch);
    // The futures are made first and then run: a stream of closures borrowing them is not
    // `Send` for every lifetime, as the fetching task needs.
    let reads: Vec<_> = jobs
        .iter()
        .map(|job| read(job, cfg, source, fetcher, limits, source_url))
        .collect();
    let results: Vec<_> = futures_util::stream::iter(reads)
        .buffer_unordered(cfg.fetch.full_text_concurrency.max(1))
        .collect()
        .await;
    let mut dressed = Dressed::default();
    for (job, result) in results {
        let label = match &result {
            Ok(Some(_)) => "ok",
            Ok(None) => "not_modified",
            Err(e) => e.reason(),
        };
        *dressed.counts.entry(label).or_default() += 1;
        let row = match result {
            Ok(Some((article, validators))) => {
                for &i in &at[&job.id] {
                    with_article(&mut items[i], &article.html);
                }
                PageRow {
                    item_id: job.id,
                    url: job.url.to_string(),
                    status: PageStatus::Read,
                    validators,
                    failures: 0,
                    next_try: None,
                    fetched_at: now,
                    article: Some(article.html),
                    error: None,
                }
            }
            // Not modified (asked with the stored page's validators): its article stands, and the
            // item has it already.
            Ok(None) => match job.stored.clone() {
                Some(stored) => PageRow {
                    fetched_at: now,
                    ..stored
                },
                None => continue,
            },
            // A page read before that fails now keeps its article.
            Err(e) if job.stored.as_ref().is_some_and(|p| p.status == PageStatus::Read) => {
                tracing::warn!(page = %crate::redact::Shown(&job.url), error = %crate::run::error_chain(&e), "page failed: its article read before stays");
                continue;
            }
            Err(e) => {
                let failures = job.stored.as_ref().map_or(0, |p| p.failures).saturating_add(1);
                let error = crate::run::error_chain(&e);
                tracing::warn!(page = %crate::redact::Shown(&job.url), %error, "page failed: the item keeps its feed text");
                let wait = policy.after_failure(failures, None, jitter_at(job.url.as_str(), failures, now));
                PageRow {
                    item_id: job.id,
                    url: job.url.to_string(),
                    status: PageStatus::Failed,
                    validators: Validators::default(),
                    failures,
                    next_try: Some(now + chrono::Duration::from_std(wait).unwrap_or_default()),
                    fetched_at: now,
                    article: None,
                    error: Some(error),
                }
            }
        };
        dressed.pages.push(row);
    }
    Ok(dressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_becomes_the_content_and_the_feed_text_the_summary() {
        let mut only_content = Item {
            content: Some("<p>short</p>".into()),
            ..Item::default()
        };
        with_article(&mut only_content, "<p>article</p>");
        assert_eq!(only_content.summary.as_deref(), Some("<p>short</p>"));
        assert_eq!(only_content.content.as_deref(), Some("<p>article</p>"));
        let mut both = Item {
            summary: Some("summary".into()),
            content: Some("content".into()),
            ..Item::default()
        };
        with_article(&mut both, "article");
        assert_eq!(
            (both.summary.as_deref(), both.content.as_deref()),
            (Some("summary"), Some("article"))
        );
        // Dressing again (an article that changed) keeps the feed's summary.
        with_article(&mut only_content, "<p>new article</p>");
        assert_eq!(only_content.summary.as_deref(), Some("<p>short</p>"));
    }

    #[test]
    fn auto_wants_the_page_of_short_items_only() {
        let cfg = Config::parse(
            "[fetch]\nfull_text_min_chars = 10\n[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\nfull_text = \"auto\"\n",
            std::path::Path::new("/tmp/x.toml"),
        )
        .expect("valid");
        let source = &cfg.sources[0];
        let item = |text: &str| Item {
            summary: Some(format!("<p>{text}</p>")),
            ..Item::default()
        };
        assert!(wanted(&cfg, source, &item("短讯")));
        assert!(!wanted(&cfg, source, &item("一二三四五六七八九十")));
        assert!(wanted(&cfg, source, &Item::default()));
    }
}
