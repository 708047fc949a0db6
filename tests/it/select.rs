//! Selecting entries from the store on light columns (`pipeline::publish::entries`) gives exactly the
//! entries the former selection gave from every item read in full: the same ids, copies shown,
//! members, regions and titles, for every dedup mode, with region and keyword filters and with
//! the daemon's ad-hoc narrowing. On SQLite, and on PostgreSQL when `FEEDFOLD_TEST_POSTGRES`
//! names a server (a database is created for the test and dropped after).

use std::collections::BTreeMap;

use feedfold::config::{Config, Dedup, OutputConfig, resolve_region};
use feedfold::html;
use feedfold::model::{Category, Person, Regions, StoredItem};
use feedfold::output::query::{Doc, Query};
use feedfold::output::{self, Entry, Member, Selection};
use feedfold::pipeline::publish;
use feedfold::store::Store;
use feedfold::transform::region::Gazetteer;
use xxhash_rust::xxh3::xxh3_64;

use crate::support::{Backend, Env, FOLD_FIXTURES, fixtures, sources};

/// Two feeds whose items share links (so they are one story each), with bodies that pick the
/// copy shown by byte length (not character length), content before summary, then date; and
/// items without a title.
fn write_copies(dir: &std::path::Path) -> Vec<(String, String)> {
    let item = |link: &str, title: &str, date: &str, summary: &str, content: &str| {
        let opt = |tag: &str, v: &str| {
            if v.is_empty() {
                String::new()
            } else {
                format!("<{tag}><![CDATA[{v}]]></{tag}>")
            }
        };
        format!(
            "<item><link>http://copies.example/{link}</link>{}<pubDate>{date}</pubDate>{}{}</item>",
            opt("title", title),
            opt("description", summary),
            opt("content:encoded", content)
        )
    };
    let feed = |items: &[String]| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\" \
             xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>c</title>\
             <link>http://copies.example/</link>{}</channel></rss>",
            items.concat()
        )
    };
    let early = "Mon, 03 Jan 2022 08:00:00 +0800";
    let late = "Tue, 04 Jan 2022 08:00:00 +0800";
    let a = feed(&[
        item("1", "甲", early, "", "<p>上海市卫生健康委员会通报</p>"),
        item(
            "2",
            "",
            late,
            &format!("<p>{}</p>", "long summary ".repeat(20)),
            "<p>short</p>",
        ),
        item("3", "", late, "", "<p>无标题的上海报道，内容相同。</p>"),
        item("4", "", late, "", "<p>same length</p>"),
    ]);
    let b = feed(&[
        item("1", "乙", late, "", &format!("<p>{}</p>", "x".repeat(30))),
        item("2", "Two", early, "", &format!("<p>{}</p>", "content ".repeat(8))),
        item("3", "", early, "", "<p>无标题的上海报道，内容相同。</p>"),
        item("4", "", early, "", "<p>same length</p>"),
    ]);
    let mut list = Vec::new();
    for (name, text) in [("copies-a", a), ("copies-b", b)] {
        let path = dir.join(format!("{name}.xml"));
        std::fs::write(&path, text).expect("write feed");
        list.push((name.to_string(), path.display().to_string()));
    }
    list
}

/// Every fixture that parses, under two names for the fold fixtures so every story has copies
/// in several sources, the feeds of [`write_copies`], and outputs over all of them.
fn config_body(dir: &std::path::Path) -> String {
    let fold = fixtures().join("fold");
    let feeds = fixtures().join("feeds");
    let mut list: Vec<(String, String)> = write_copies(dir);
    for f in FOLD_FIXTURES {
        let path = fold.join(f).display().to_string();
        list.push((f.trim_end_matches(".xml").to_string(), path.clone()));
        list.push((format!("again-{}", f.trim_end_matches(".xml")), path));
    }
    for f in [
        "atom.xml",
        "rss2.xml",
        "gbk.xml",
        "big5.xml",
        "feed.json",
        "rss1.rdf",
    ] {
        list.push((
            format!("feed-{}", f.replace('.', "-")),
            feeds.join(f).display().to_string(),
        ));
    }
    let borrowed: Vec<(&str, String)> = list.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    let outputs = "[[output]]\nname = \"story\"\ntitle = \"t\"\n\n\
         [[output]]\nname = \"story-two\"\ntitle = \"t\"\nlimit = 2\n\n\
         [[output]]\nname = \"exact\"\ntitle = \"t\"\ndedup = \"exact\"\n\n\
         [[output]]\nname = \"off\"\ntitle = \"t\"\ndedup = \"off\"\nlimit = 1000\n\n\
         [[output]]\nname = \"off-three\"\ntitle = \"t\"\ndedup = \"off\"\nlimit = 3\n\n\
         [[output]]\nname = \"shaanxi\"\ntitle = \"t\"\nregions = [\"陝西\"]\n\n\
         [[output]]\nname = \"not-shaanxi\"\ntitle = \"t\"\ndedup = \"exact\"\nexclude_regions = [\"Shaanxi\"]\n\n\
         [[output]]\nname = \"epidemic\"\ntitle = \"t\"\nkeywords = 'title:衛生健康委 -source:nhc-copy'\n\n\
         [[output]]\nname = \"content\"\ntitle = \"t\"\ndedup = \"off\"\nkeywords = '疫情 OR content:/covid-?19/'\nlimit = 4\n\n\
         [[output]]\nname = \"two-sources\"\ntitle = \"t\"\nsources = [\"nhc\", \"again-nhc-copy\", \"feed-atom-xml\"]\n\n\
         [[output]]\nname = \"copies\"\ntitle = \"t\"\nsources = [\"copies-a\", \"copies-b\"]\n\n\
         [[output]]\nname = \"henan-words\"\ntitle = \"t\"\nregions = [\"410000\"]\nkeywords = '济源 OR 濟源'\n\n";
    format!("{outputs}{}", sources(&borrowed))
}

/// The selection as it was before `pipeline::publish::entries`: every item in full, grouped, filtered
/// (regions of the group's first item), sorted and truncated; ids as a store created with
/// per-output ids gives them (in the ad-hoc `view`, if any).
fn former_select(items: Vec<StoredItem>, out: &OutputConfig, view: Option<&str>) -> Vec<Entry> {
    let mut groups: BTreeMap<String, Vec<StoredItem>> = BTreeMap::new();
    for item in items {
        let key = match out.dedup {
            Dedup::Story => item.story_id.clone(),
            Dedup::Exact => item.exact_id.clone(),
            Dedup::Off => format!("{}\u{0}{}", item.source, item.key),
        };
        groups.entry(key).or_default().push(item);
    }
    let mut entries: Vec<Entry> = groups
        .into_iter()
        .filter(|(_, members)| former_accepts(out, members))
        .map(|(key, members)| {
            let tail = match out.dedup {
                Dedup::Off => format!("item:{:016x}", xxh3_64(key.as_bytes())),
                Dedup::Story | Dedup::Exact => format!("story:{key}"),
            };
            let id = match view {
                None => format!("urn:feedfold:out:{}:{tail}", out.name),
                Some(view) => format!("urn:feedfold:out:{}:view:{view}:{tail}", out.name),
            };
            former_entry(id, members)
        })
        .collect();
    entries.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    entries.truncate(out.limit);
    entries
}

fn within(regions: &Regions, filter: &[usize]) -> bool {
    let g = Gazetteer::embedded();
    regions
        .iter()
        .filter_map(|r| g.by_code(&r.code))
        .any(|u| filter.iter().any(|&f| g.contains(f, u)))
}

fn matches(q: &Query, title: &str, e: (&Option<String>, &Option<String>), item: &StoredItem) -> bool {
    let content = html::to_text(e.0.as_deref().or(e.1.as_deref()).unwrap_or(""));
    let (authors, categories) = names(&item.authors, &item.categories);
    q.matches(&Doc {
        title,
        content: &content,
        authors: &authors,
        categories: &categories,
        source: &item.source,
    })
}

fn names(authors: &[Person], categories: &[Category]) -> (Vec<String>, Vec<String>) {
    (
        authors.iter().map(|a| a.display().to_string()).collect(),
        categories.iter().map(|c| c.display().to_string()).collect(),
    )
}

fn former_accepts(out: &OutputConfig, members: &[StoredItem]) -> bool {
    let regions = &members[0].regions;
    if !out.regions.is_empty() && !within(regions, &out.regions) {
        return false;
    }
    if within(regions, &out.exclude_regions) {
        return false;
    }
    out.keywords.as_ref().is_none_or(|q| {
        members.iter().any(|m| {
            let body = (&m.content_html, &m.summary_html);
            matches(q, m.title.as_deref().unwrap_or(""), body, m)
        })
    })
}

fn former_entry(id: String, mut members: Vec<StoredItem>) -> Entry {
    members.sort_by(|a, b| {
        b.body_len()
            .cmp(&a.body_len())
            .then_with(|| a.date().cmp(&b.date()))
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.key.cmp(&b.key))
    });
    let published = members.iter().map(StoredItem::date).min().unwrap_or_default();
    let updated = members
        .iter()
        .map(|m| m.updated.unwrap_or_else(|| m.date()))
        .max()
        .unwrap_or(published)
        .max(published);
    let mut rest = members.split_off(1);
    let shown = members.pop().expect("a member");
    rest.sort_by(|a, b| a.source.cmp(&b.source).then_with(|| a.key.cmp(&b.key)));
    let mut others: Vec<Member> = Vec::new();
    for m in rest {
        let member = Member {
            source: m.source,
            url: m.link,
            title: m.title,
        };
        let same_as_shown = member.source == shown.source && member.url == shown.link;
        if !same_as_shown && !others.contains(&member) {
            others.push(member);
        }
    }
    let title = shown
        .title
        .clone()
        .or_else(|| others.iter().find_map(|o| o.title.clone()))
        .unwrap_or_else(|| {
            let body = shown.content_html.as_deref().or(shown.summary_html.as_deref());
            let text = html::one_line(&html::to_text(body.unwrap_or("")));
            let mut title: String = text.chars().take(60).collect();
            if title.len() < text.len() {
                title.push('…');
            }
            if title.is_empty() {
                "(untitled)".to_string()
            } else {
                title
            }
        });
    Entry {
        id,
        story: shown.story_id.clone(),
        title,
        title_html: shown.title_html,
        link: shown.link,
        published,
        updated,
        summary_html: shown.summary_html,
        content_html: shown.content_html,
        authors: shown.authors,
        categories: shown.categories,
        enclosures: shown.enclosures,
        language: shown.language,
        extras: shown.extras,
        source: shown.source,
        others,
        regions: shown.regions,
    }
}

/// The daemon's former ad-hoc rendering: every entry, then its `?region=` and `?q=`, then
/// its limit.
fn former_adhoc(
    items: Vec<StoredItem>,
    out: &OutputConfig,
    regions: &[usize],
    q: Option<&Query>,
    limit: usize,
    view: Option<&str>,
) -> Vec<Entry> {
    let mut all = out.clone();
    all.limit = usize::MAX;
    former_select(items, &all, view)
        .into_iter()
        .filter(|e| regions.is_empty() || within(&e.regions, regions))
        .filter(|e| {
            q.is_none_or(|q| {
                let content = html::to_text(
                    e.content_html
                        .as_deref()
                        .or(e.summary_html.as_deref())
                        .unwrap_or(""),
                );
                let (authors, categories) = names(&e.authors, &e.categories);
                q.matches(&Doc {
                    title: &e.title,
                    content: &content,
                    authors: &authors,
                    categories: &categories,
                    source: &e.source,
                })
            })
        })
        .take(limit)
        .collect()
}

/// Compares both selections on every output of `cfg` and on ad-hoc narrowings, in `store`.
async fn same_entries(cfg: &Config, store: &Store) {
    let all = store.all_items().await.expect("items");
    let stories: std::collections::HashSet<_> = all.iter().map(|i| &i.story_id).collect();
    assert!(stories.len() < all.len(), "the fixture has duplicates");
    // The copy shown is the longer in bytes (1), by content before summary (2), else the earlier (3).
    let copies = cfg.outputs.iter().find(|o| o.name == "copies").expect("output");
    let entries = publish::entries(store, &cfg.output_sources(copies), Selection::of(copies))
        .await
        .expect("entries");
    let shown: BTreeMap<&str, (&str, &str, usize)> = entries
        .iter()
        .map(|e| {
            let link = e.link.as_deref().unwrap_or("");
            (
                &link[link.len() - 1..],
                (e.source.as_str(), e.title.as_str(), e.others.len()),
            )
        })
        .collect();
    assert_eq!(shown["1"], ("copies-a", "甲", 1), "{entries:#?}");
    assert_eq!(shown["2"], ("copies-b", "Two", 1), "{entries:#?}");
    assert_eq!(
        shown["3"],
        ("copies-b", "无标题的上海报道，内容相同。", 1),
        "{entries:#?}"
    );
    assert_eq!(shown["4"], ("copies-b", "same length", 1), "{entries:#?}");
    let mut nonempty = 0;
    for out in &cfg.outputs {
        let sources = cfg.output_sources(out);
        let items = store.items_of(&sources).await.expect("items");
        let former = former_select(items.clone(), out, None);
        let light = publish::entries(store, &sources, Selection::of(out))
            .await
            .expect("entries");
        assert_eq!(light, former, "output {}", out.name);
        assert_eq!(
            output::select(items, out),
            former,
            "output {} in memory",
            out.name
        );
        nonempty += usize::from(!former.is_empty());
    }
    assert_eq!(nonempty, cfg.outputs.len(), "every output shows something");

    let shaanxi = [resolve_region("陕西").expect("region")];
    let queries = [None, Some("疫情"), Some("-title:会议")];
    for out in &cfg.outputs {
        let sources = cfg.output_sources(out);
        for regions in [&[][..], &shaanxi[..]] {
            for text in queries {
                let q = text.map(|t| Query::parse(t).expect("query"));
                let codes: Vec<&str> = regions
                    .iter()
                    .map(|&u| Gazetteer::embedded().unit(u).code.as_str())
                    .collect();
                let view = output::view_name(&codes, text);
                assert_eq!(view.is_some(), text.is_some() || !regions.is_empty());
                for limit in [1, 3, out.limit] {
                    let items = store.items_of(&sources).await.expect("items");
                    let former = former_adhoc(items, out, regions, q.as_ref(), limit, view.as_deref());
                    let selection = Selection {
                        output: out,
                        regions,
                        query: q.as_ref(),
                        limit,
                        view: view.as_deref(),
                    };
                    let light = publish::entries(store, &sources, selection)
                        .await
                        .expect("entries");
                    assert_eq!(
                        light, former,
                        "output {} regions {regions:?} q {q:?} limit {limit}",
                        out.name
                    );
                }
            }
        }
    }
}

async fn light_selection_gives_the_former_entries(backend: Backend) {
    let feeds = tempfile::tempdir().expect("tempdir");
    let Some(env) = Env::on(backend, &config_body(feeds.path())).await else {
        return;
    };
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    same_entries(&env.config, &env.store).await;
}

#[tokio::test]
async fn light_selection_gives_the_former_entries_on_sqlite() {
    light_selection_gives_the_former_entries(Backend::Sqlite).await;
}

#[tokio::test]
async fn light_selection_gives_the_former_entries_on_postgres() {
    light_selection_gives_the_former_entries(Backend::Postgres).await;
}
