//! OPML: subscriptions in, configured sources out.
//!
//! **Import.** In: the text of a config file and the text of an OPML 1.0 / 1.1 / 2.0 document
//! (a feed reader's subscription export, folders nested to any depth). Out: an [`Import`] with
//! the config text plus one `[[source]]` table appended per new subscription, and what was added,
//! skipped as a duplicate and rejected. Every outline with an `xmlUrl` is a subscription; its
//! name is its `text`, else its `title`, else its URL's host, made unique against the config
//! (`Name (2)`, `Name (3)` …). A subscription whose URL already is a source (compared after
//! trimming, ignoring a trailing slash and the case of scheme and host), or that the document
//! lists twice, is skipped; one whose `xmlUrl` is not an absolute `http(s)` URL is rejected. The
//! config is edited by [`crate::config::edit`], as `feedfold sources add` edits it: the new
//! tables go after the last `[[source]]`, each group under a comment naming its folder, and
//! every other byte of the file, comments and layout included, is kept. [`import`] is pure;
//! [`import_file`] reads both files, checks the result with [`Config::parse`] and replaces the
//! config atomically, and only when something was added.
//!
//! **Export.** In: a [`Config`]. Out: an OPML 2.0 document with one
//! `<outline type="rss" text=NAME title=NAME xmlUrl=URL/>` per source, in config order, for a
//! feed reader to subscribe to (the daemon serves it at `/opml` as [`CONTENT_TYPE`];
//! `feedfold sources export` prints it). An `http(s)` source's URL has its credentials masked
//! ([`crate::redact`]); a local file is written as its absolute `file://` URL. Importing an
//! export into an empty config gives back the same names and `http(s)` URLs; the import rejects
//! `file://` URLs, as it does from any OPML file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use url::Url;

use crate::config::edit::{self, EditError, NewSource, SourceEditor};
use crate::config::{Config, Location};
use crate::source::guard;

/// The media type of an exported OPML document.
pub const CONTENT_TYPE: &str = "text/x-opml";

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The new config text: the original with one `[[source]]` per added entry after its last
    /// source.
    pub text: String,
    /// Subscriptions appended as sources, in document order.
    pub added: Vec<Added>,
    /// Subscriptions left out because the config or the document already has their URL.
    pub skipped: Vec<Skipped>,
    /// Outlines left out because their `xmlUrl` is not an absolute `http(s)` URL.
    pub rejected: Vec<Rejected>,
}

/// A subscription appended as a `[[source]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The source name written (unique in the config).
    pub name: String,
    /// The source URL written (the outline's `xmlUrl`, trimmed).
    pub url: String,
}

/// A subscription left out as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The name it would have had.
    pub name: String,
    /// Its `xmlUrl`, trimmed.
    pub url: String,
    /// Which source or earlier outline has the same URL.
    pub reason: String,
}

/// An outline left out because its `xmlUrl` cannot be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The outline's `text` (else `title`, else its `xmlUrl`).
    pub text: String,
    /// What is wrong with its `xmlUrl`.
    pub reason: String,
}

/// Why an import failed. Nothing is written when it does.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    /// A file could not be read.
    #[error("opml import: cannot read {}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The document is not OPML the importer can read.
    #[error("{}not an OPML document: {message}", edit::located(file.as_deref(), None))]
    Opml {
        /// The OPML file, when read from one.
        file: Option<PathBuf>,
        /// What is wrong, with the parser's position where it gives one.
        message: String,
    },
    /// The config could not be read, edited or written, or the result would not load.
    #[error(transparent)]
    Config(#[from] EditError),
}

impl OpmlError {
    /// Names the files an error from [`import`] is about.
    fn in_files(self, config: &Path, opml: &Path) -> Self {
        match self {
            OpmlError::Opml { file: None, message } => OpmlError::Opml {
                file: Some(opml.to_path_buf()),
                message,
            },
            OpmlError::Config(e) => OpmlError::Config(e.in_file(config)),
            other => other,
        }
    }
}

/// Adds a `[[source]]` to `config_text` for every subscription in `opml_text` whose URL is
/// new. Pure: see the module docs for names, duplicates and rejections.
pub fn import(config_text: &str, opml_text: &str) -> Result<Import, OpmlError> {
    let mut editor = SourceEditor::parse(config_text)?;
    let existing = editor.sources();
    let subscriptions = subscriptions(opml_text)?;

    let mut taken: HashSet<String> = existing.iter().map(|(name, _)| name.clone()).collect();
    let mut known: HashMap<String, String> = HashMap::new();
    for (name, url) in &existing {
        known
            .entry(url_key(url))
            .or_insert_with(|| format!("already a source: `{name}`"));
    }

    let mut out = Import {
        text: String::new(),
        added: Vec::new(),
        skipped: Vec::new(),
        rejected: Vec::new(),
    };
    let mut tables = Vec::new();
    for sub in subscriptions {
        let url = sub.xml_url.trim();
        let parsed = match http_url(url) {
            Ok(parsed) => parsed,
            Err(reason) => {
                let text = [sub.text.as_str(), sub.title.as_str(), url]
                    .into_iter()
                    .find(|t| !t.is_empty())
                    .unwrap_or_default();
                out.rejected.push(Rejected {
                    text: text.to_string(),
                    reason,
                });
                continue;
            }
        };
        let base = [&sub.text, &sub.title]
            .into_iter()
            .find(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| parsed.host_str().unwrap_or(url).to_string());
        let key = url_key(url);
        if let Some(reason) = known.get(&key) {
            out.skipped.push(Skipped {
                name: base,
                url: url.to_string(),
                reason: reason.clone(),
            });
            continue;
        }
        let name = unique_name(&base, &taken);
        taken.insert(name.clone());
        known.insert(key, format!("listed earlier in the OPML as `{name}`"));
        tables.push((sub.folder, name.clone(), url.to_string()));
        out.added.push(Added {
            name,
            url: url.to_string(),
        });
    }
    if tables.is_empty() {
        out.text = config_text.to_string();
        return Ok(out);
    }
    let mut last_folder = None;
    for (folder, name, url) in tables {
        let heading = (!folder.is_empty() && last_folder.as_ref() != Some(&folder)).then(|| folder.clone());
        last_folder = Some(folder);
        editor.add(NewSource {
            name,
            url,
            heading,
            note: None,
        });
    }
    out.text = editor.text();
    Ok(out)
}

/// Reads a config and an OPML file, [`import`]s, checks the result with [`Config::parse`] (a
/// config that does not load is an error, even when nothing was added) and, if anything was
/// added, replaces the config atomically: a temporary file beside it, then a rename. On any error
/// the config is left as it was.
pub fn import_file(config_path: &Path, opml_path: &Path) -> Result<Import, OpmlError> {
    let config_text = edit::read(config_path)?;
    let opml_text = read_text(opml_path)?;
    let result = import(&config_text, &opml_text).map_err(|e| e.in_files(config_path, opml_path))?;
    if result.added.is_empty() {
        Config::parse(&result.text, config_path).map_err(|source| EditError::Invalid {
            file: config_path.to_path_buf(),
            source,
        })?;
    } else {
        edit::save(config_path, &result.text)?;
    }
    Ok(result)
}

/// The configured sources as an OPML 2.0 document titled `title` (see the module docs).
pub fn export(cfg: &Config, title: &str) -> String {
    let mut doc = opml::OPML {
        head: Some(opml::Head {
            title: Some(title.to_string()),
            ..opml::Head::default()
        }),
        ..opml::OPML::default()
    };
    for source in &cfg.sources {
        let xml_url = match &source.location {
            Location::Http(url) => crate::redact::url(url).into_owned(),
            // The config made the path absolute; one `Url` cannot hold is shown as written.
            Location::File(path) => {
                Url::from_file_path(path).map_or_else(|()| path.display().to_string(), String::from)
            }
        };
        doc.body.outlines.push(opml::Outline {
            text: source.name.clone(),
            title: Some(source.name.clone()),
            r#type: Some("rss".to_string()),
            xml_url: Some(xml_url),
            ..opml::Outline::default()
        });
    }
    let body = doc
        .to_string()
        .expect("an OPML document always serialises into a String");
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n")
}

/// One outline with an `xmlUrl`, names whitespace-folded.
struct Subscription {
    text: String,
    title: String,
    xml_url: String,
    /// The folders it is in, outermost first, joined by ` / `; empty at the top level.
    folder: String,
}

/// Every outline with an `xmlUrl`, depth first in document order.
fn subscriptions(opml_text: &str) -> Result<Vec<Subscription>, OpmlError> {
    let text = opml_text.strip_prefix('\u{feff}').unwrap_or(opml_text);
    match root_element(text) {
        Some("opml") => {}
        Some(other) => {
            return Err(OpmlError::Opml {
                file: None,
                message: format!("the root element is <{other}>, expected <opml>"),
            });
        }
        None => {
            return Err(OpmlError::Opml {
                file: None,
                message: "no XML element found".to_string(),
            });
        }
    }
    let doc = match opml::OPML::from_str(text) {
        Ok(doc) => doc,
        // An export from a reader without subscriptions: nothing to import.
        Err(opml::Error::BodyHasNoOutlines) => return Ok(Vec::new()),
        Err(e) => {
            return Err(OpmlError::Opml {
                file: None,
                message: opml_message(&e),
            });
        }
    };
    let mut out = Vec::new();
    let mut folders = Vec::new();
    walk(&doc.body.outlines, &mut folders, &mut out);
    Ok(out)
}

fn walk(outlines: &[opml::Outline], folders: &mut Vec<String>, out: &mut Vec<Subscription>) {
    for outline in outlines {
        let text = fold_space(&outline.text);
        let title = fold_space(outline.title.as_deref().unwrap_or_default());
        match &outline.xml_url {
            Some(xml_url) => {
                out.push(Subscription {
                    text,
                    title,
                    xml_url: xml_url.clone(),
                    folder: folders.join(" / "),
                });
                walk(&outline.outlines, folders, out);
            }
            None => {
                let name = if text.is_empty() { title } else { text };
                let pushed = !name.is_empty();
                if pushed {
                    folders.push(name);
                }
                walk(&outline.outlines, folders, out);
                if pushed {
                    folders.pop();
                }
            }
        }
    }
}

/// The name of the first element in `xml`, past the prolog, comments and doctype.
fn root_element(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        rest = &rest[rest.find('<')?..];
        let skip_to = if rest.starts_with("<?") {
            "?>"
        } else if rest.starts_with("<!--") {
            "-->"
        } else if rest.starts_with("<!") {
            ">"
        } else {
            let name = &rest[1..];
            let end = name
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/'))
                .unwrap_or(name.len());
            return Some(&name[..end]);
        };
        let end = rest.find(skip_to)?;
        rest = &rest[end + skip_to.len()..];
    }
}

/// The opml crate's error with its causes, and a hint for the usual mistakes.
fn opml_message(error: &opml::Error) -> String {
    // The crate's own message ("Failed to process XML file") says less than its causes.
    let detail = match std::error::Error::source(error) {
        Some(cause) => crate::run::error_chain(cause),
        None => error.to_string(),
    };
    if detail.contains("\"OPML\": \"version\"") {
        "the <opml> element has no version attribute (1.0, 1.1 or 2.0)".to_string()
    } else if let opml::Error::UnsupportedVersion(v) = error {
        format!("unsupported OPML version {v:?}: expected 1.0, 1.1 or 2.0")
    } else if detail == "unexpected end of file" {
        "the document ends before its elements are closed (truncated?)".to_string()
    } else {
        detail
    }
}

/// `url` parsed, if it is an absolute `http(s)` URL whose host is not an address feedfold
/// never fetches ([`guard::never`]): a source URL naming one is fetched, so an imported list
/// must not be the one to name it.
fn http_url(url: &str) -> Result<Url, String> {
    if url.is_empty() {
        return Err("empty xmlUrl".to_string());
    }
    let shown = crate::redact::text(url);
    let parsed = Url::parse(url).map_err(|e| format!("`{shown}` is not an absolute URL: {e}"))?;
    if let Some(kind) = guard::literal_ip(&parsed).and_then(guard::never) {
        return Err(format!(
            "`{shown}` names a {kind} address: not imported (write it into the config yourself if you mean it)"
        ));
    }
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(format!("`{shown}`: scheme `{other}` is not http or https")),
    }
}

/// The form two source URLs are compared in: trimmed, scheme and host lowercased (URL syntax),
/// without a trailing slash. Local paths compare as written.
fn url_key(url: &str) -> String {
    let url = url.trim();
    let normal = match Url::parse(url) {
        Ok(parsed) if url.contains("://") => parsed.to_string(),
        _ => url.to_string(),
    };
    normal.trim_end_matches('/').to_string()
}

/// `base`, or `base (2)`, `base (3)` … whichever is not taken.
fn unique_name(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base} ({n})"))
        .find(|name| !taken.contains(name))
        .unwrap_or_default()
}

/// Whitespace runs (newlines in attributes included) as single spaces, trimmed.
fn fold_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read_text(path: &Path) -> Result<String, OpmlError> {
    edit::read_utf8(path).map_err(|source| OpmlError::Read {
        file: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../config/example.toml");
    const FIXTURE_CONFIG: &str = include_str!("../tests/fixtures/opml/feeds.toml");
    const FIXTURE_OPML: &str = include_str!("../tests/fixtures/opml/feedreader.opml");

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/feedfold/feeds.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn opml(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><head><title>t</title></head><body>{body}</body></opml>"
        )
    }

    fn feed(text: &str, url: &str) -> String {
        format!("<outline type=\"rss\" text=\"{text}\" xmlUrl=\"{url}\"/>")
    }

    fn names_urls(import: &Import) -> Vec<(&str, &str)> {
        import
            .added
            .iter()
            .map(|a| (a.name.as_str(), a.url.as_str()))
            .collect()
    }

    #[test]
    fn adds_after_the_last_source_and_keeps_the_rest_of_the_text() {
        for config in [EXAMPLE, FIXTURE_CONFIG] {
            let import = import(config, FIXTURE_OPML).expect("import");
            assert!(!import.added.is_empty());
            let cfg = parse(&import.text);
            let before = parse(config);
            assert_eq!(cfg.outputs.len(), before.outputs.len());
            assert_eq!(cfg.sources.len(), before.sources.len() + import.added.len());
            for (source, added) in cfg.sources[before.sources.len()..].iter().zip(&import.added) {
                assert_eq!(source.name, added.name);
                assert_eq!(
                    source.location,
                    Location::Http(Url::parse(&added.url).expect("url"))
                );
            }
            // Taking the added sources out again gives back the file as it was, save for the
            // folder headings above them.
            let mut editor = SourceEditor::parse(&import.text).expect("toml");
            for added in &import.added {
                editor.remove(&added.name).expect("remove");
            }
            let mut back = editor.text();
            for heading in ["\n# China\n", "\n# China / Regions\n", "\n# Tech\n"] {
                back = back.replacen(heading, "", 1);
            }
            assert_eq!(back, config);
        }
    }

    #[test]
    fn the_feed_reader_export_is_read_with_folders_duplicates_and_rejections() {
        let import = import(FIXTURE_CONFIG, FIXTURE_OPML).expect("import");
        assert_eq!(
            names_urls(&import),
            [
                ("SCMP China", "https://www.scmp.com/rss/4/feed"),
                ("China Digital Times", "https://chinadigitaltimes.net/feed/"),
                ("Shaanxi Daily", "https://www.sxdaily.com.cn/rss/sxdaily.xml"),
                ("news.example.cn", "https://news.example.cn/xian/rss.xml"),
                ("Ars Technica", "https://feeds.arstechnica.com/arstechnica/index"),
                ("Rust Blog", "https://blog.rust-lang.org/feed.xml"),
                ("Ars Technica (2)", "https://arstechnica.com/science/feed/"),
                ("Economist & Friends", "https://www.economist.com/china/rss.xml"),
            ]
        );
        let skipped: Vec<_> = import
            .skipped
            .iter()
            .map(|s| (s.name.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("Sixth Tone", "already a source: `sixth-tone`"),
                (
                    "China Digital Times",
                    "listed earlier in the OPML as `China Digital Times`"
                ),
            ]
        );
        assert_eq!(import.rejected.len(), 1);
        assert_eq!(import.rejected[0].text, "Podcasts I sync");
        assert!(
            import.rejected[0].reason.contains("scheme `feed`"),
            "{:?}",
            import.rejected
        );
        let (head, tail) =
            FIXTURE_CONFIG.split_at(FIXTURE_CONFIG.find("\n\n# One merged feed").expect("fixture") + 1);
        assert!(
            import.text.starts_with(head) && import.text.ends_with(tail),
            "{}",
            import.text
        );
        let appended = &import.text[head.len()..import.text.len() - tail.len()];
        assert!(
            appended.starts_with(
                "\n# China\n[[source]]\nname = \"SCMP China\"\nurl = \"https://www.scmp.com/rss/4/feed\"\n\n[[source]]\n"
            ),
            "{appended}"
        );
        assert!(
            appended.contains("\n# China / Regions\n[[source]]\nname = \"Shaanxi Daily\""),
            "{appended}"
        );
        assert!(
            appended.contains("\n# Tech\n[[source]]\nname = \"Ars Technica\""),
            "{appended}"
        );
        assert_eq!(
            appended.matches("# China / Regions").count(),
            1,
            "one heading per folder run"
        );
    }

    #[test]
    fn duplicates_compare_case_of_scheme_and_host_and_trailing_slash_away() {
        let config = "[[source]]\nname = \"a\"\nurl = \" https://Example.org/feed \"\n";
        let doc = opml(
            &[
                feed("A", "HTTPS://EXAMPLE.ORG/feed/"),
                feed("B", "https://example.org/other"),
                feed("B again", "https://example.org/other/"),
                feed("Path case differs", "https://example.org/Feed"),
            ]
            .concat(),
        );
        let import = import(config, &doc).expect("import");
        assert_eq!(
            names_urls(&import),
            [
                ("B", "https://example.org/other"),
                ("Path case differs", "https://example.org/Feed")
            ]
        );
        assert_eq!(import.skipped.len(), 2);
        assert_eq!(import.skipped[0].url, "HTTPS://EXAMPLE.ORG/feed/");
        parse(&import.text);
    }

    #[test]
    fn names_are_made_unique_and_fall_back_to_title_then_host() {
        let config = "[[source]]\nname = \"News\"\nurl = \"news.xml\"\n";
        let doc = opml(
            &[
                feed("News", "https://a.example/rss"),
                feed("News", "https://b.example/rss"),
                "<outline title=\"  Only\n a title \" xmlUrl=\"https://c.example/rss\"/>".to_string(),
                feed("", "https://d.example:8443/feed.xml"),
            ]
            .concat(),
        );
        let import = import(config, &doc).expect("import");
        let names: Vec<_> = import.added.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["News (2)", "News (3)", "Only a title", "d.example"]);
        assert_eq!(parse(&import.text).sources.len(), 5);
    }

    #[test]
    fn nested_folders_are_walked_and_named_in_comments() {
        let doc = opml(
            "<outline text=\"Outer\"><outline title=\"Inner\"><outline text=\"Deep\" xmlUrl=\"https://deep.example/rss\"/>\
             </outline><outline text=\"Shallow\" xmlUrl=\"https://shallow.example/rss\"/></outline>\
             <outline text=\"Top\" xmlUrl=\"https://top.example/rss\"/>",
        );
        let import = import("", &doc).expect("import");
        assert_eq!(
            import.text,
            "# Outer / Inner\n[[source]]\nname = \"Deep\"\nurl = \"https://deep.example/rss\"\n\n\
             # Outer\n[[source]]\nname = \"Shallow\"\nurl = \"https://shallow.example/rss\"\n\n\
             [[source]]\nname = \"Top\"\nurl = \"https://top.example/rss\"\n"
        );
        parse(&import.text);
    }

    #[test]
    fn urls_that_are_not_absolute_http_are_rejected() {
        let doc = opml(
            &[
                feed("Feed scheme", "feed://x.example/rss"),
                feed("Relative", "/rss.xml"),
                feed("Local", "file:///home/me/feed.xml"),
                feed("Blank", "  "),
                feed("Ok", "http://ok.example/rss"),
                feed("Metadata", "http://169.254.169.254/latest/"),
                feed("Metadata hex", "http://0xa9fea9fe/latest/"),
                feed("Nowhere", "http://0.0.0.0:8080/rss"),
                feed("Intranet", "http://10.0.0.7/rss"),
            ]
            .concat(),
        );
        let import = import("", &doc).expect("import");
        let rejected: Vec<_> = import.rejected.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            rejected,
            [
                "Feed scheme",
                "Relative",
                "Local",
                "Blank",
                "Metadata",
                "Metadata hex",
                "Nowhere"
            ]
        );
        assert_eq!(
            import.rejected[4].reason,
            "`http://169.254.169.254/latest/` names a cloud metadata address: not imported \
             (write it into the config yourself if you mean it)"
        );
        assert!(
            import.rejected[1].reason.contains("not an absolute URL"),
            "{:?}",
            import.rejected
        );
        assert_eq!(import.rejected[3].reason, "empty xmlUrl");
        assert_eq!(
            names_urls(&import),
            [
                ("Ok", "http://ok.example/rss"),
                ("Intranet", "http://10.0.0.7/rss")
            ]
        );
    }

    #[test]
    fn nothing_new_leaves_the_text_unchanged() {
        let once = import(FIXTURE_CONFIG, FIXTURE_OPML).expect("import");
        let twice = import(&once.text, FIXTURE_OPML).expect("import");
        assert!(twice.added.is_empty());
        assert_eq!(twice.text, once.text);
        let empty =
            import(FIXTURE_CONFIG, "<opml version=\"1.0\"><head/><body/></opml>").expect("empty body");
        assert_eq!(empty.text, FIXTURE_CONFIG);
    }

    #[test]
    fn export_round_trips_through_import() {
        let cfg = parse(
            "[[source]]\nname = \"Quotes \\\" & <tags>\"\nurl = \"https://Example.org/a?x=1&y=2\"\n\n\
             [[source]]\nname = \"local\"\nurl = \"feeds/local.xml\"\n\n\
             [[source]]\nname = \"中文 源\"\nurl = \"http://example.cn/rss\"\n",
        );
        let xml = export(&cfg, "My feeds & more");
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"),
            "{xml}"
        );
        assert!(xml.contains("<title>My feeds &amp; more</title>"), "{xml}");
        assert!(xml.contains("type=\"rss\""), "{xml}");
        assert!(
            xml.contains("text=\"local\" type=\"rss\" xmlUrl=\"file:///etc/feedfold/feeds/local.xml\""),
            "a local file is its absolute file URL: {xml}"
        );
        let back = import("", &xml).expect("import");
        assert_eq!(
            back.rejected.len(),
            1,
            "the import takes no file URLs: {:?}",
            back.rejected
        );
        let expected: Vec<(String, String)> = cfg
            .sources
            .iter()
            .filter_map(|s| match &s.location {
                Location::Http(url) => Some((s.name.clone(), url.to_string())),
                Location::File(_) => None,
            })
            .collect();
        let got: Vec<(String, String)> = back
            .added
            .iter()
            .map(|a| (a.name.clone(), a.url.clone()))
            .collect();
        assert_eq!(got, expected);
        let again = parse(&back.text);
        assert_eq!(again.sources.len(), 2);
    }

    #[test]
    fn malformed_opml_gives_a_clear_error() {
        let cases = [
            (
                "<opml version=\"2.0\"><body><outline text=\"a\"",
                "ends before its elements are closed",
            ),
            (
                "<opml><head/><body><outline text=\"a\"/></body></opml>",
                "no version attribute",
            ),
            (
                "<opml version=\"3.0\"><body><outline text=\"a\"/></body></opml>",
                "unsupported OPML version \"3.0\"",
            ),
            (
                "<?xml version=\"1.0\"?>\n<!-- a feed --><rss version=\"2.0\"><channel/></rss>",
                "the root element is <rss>, expected <opml>",
            ),
            ("[[source]]\nname = \"a\"\n", "no XML element found"),
            (
                "<opml version=\"2.0\"><body><outline text=\"a\" <</body></opml>",
                "invalid attribute at 1:44",
            ),
        ];
        for (doc, expected) in cases {
            let err = import("", doc).expect_err(doc).to_string();
            assert!(err.starts_with("not an OPML document: "), "{err}");
            assert!(err.contains(expected), "`{expected}` not in `{err}`");
        }
    }

    #[test]
    fn config_problems_are_reported_with_their_line() {
        let err = import(
            "[store]\nurl = \"x\"\nbroken = \n",
            &opml(&feed("a", "https://a.example/")),
        )
        .expect_err("toml");
        assert!(
            matches!(err, OpmlError::Config(EditError::Toml { line: Some(3), .. })),
            "{err:?}"
        );
        let inline = "source = [{ name = \"a\", url = \"https://a.example/\" }]\n";
        let err = import(inline, &opml(&feed("b", "https://b.example/"))).expect_err("inline sources");
        assert!(err.to_string().contains("[[source]]"), "{err}");
    }

    #[test]
    fn line_endings_and_a_missing_final_newline_are_respected() {
        let crlf = "# sources\r\n[[source]]\r\nname = \"a\"\r\nurl = \"https://a.example/\"";
        let import = import(crlf, &opml(&feed("b", "https://b.example/"))).expect("import");
        assert_eq!(
            import.text,
            format!("{crlf}\r\n\r\n[[source]]\r\nname = \"b\"\r\nurl = \"https://b.example/\"\r\n")
        );
        parse(&import.text);
    }
}
