//! Editing a config file in place: what `feedfold sources add`, `sources remove`,
//! `sources import` and `feedfold init` write.
//!
//! In: the text of a config file (or its path). Out: the same text with `[[source]]` tables
//! added or removed and every other byte as it was (comments, blank lines, key order, quoting,
//! alignment), or an [`EditError`] saying why not. The editing is `toml_edit`'s:
//! - a new source goes right after the last `[[source]]` (at the end of the file when there is
//!   none), a blank line above it; [`NewSource::heading`] is a comment line above it (an
//!   import's folder), [`NewSource::note`] a comment after its name (`add --title`);
//! - a removed source takes its own lines with it (its keys and the comments between them);
//!   comment lines above its header are not its own and stay, above whatever follows it;
//!   blank lines above it go with it. So adding a source and removing it again gives back the
//!   file as it was;
//! - a file written with CRLF line ends keeps them.
//!
//! [`save`] checks the new text with [`Config::parse`] and replaces the file atomically: a
//! config that would not load is never written. [`init`] writes [`STARTER`], never over an
//! existing file. [`closest`] finds the name someone probably meant.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::{Config, ConfigError};

/// The config `feedfold init` writes: a commented `[store]`, `[publish]`, one placeholder
/// `[[source]]` and one `[[output]]`.
pub const STARTER: &str = include_str!("../../config/starter.toml");

/// Why a config could not be edited. Nothing is written when it could not.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The config could not be read.
    #[error("config: cannot read {}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config could not be written.
    #[error("config: cannot write {}", file.display())]
    Write {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `init` found a file where it would write.
    #[error("config: {} already exists: not overwritten (choose another file with --config)", file.display())]
    Exists {
        /// The file.
        file: PathBuf,
    },
    /// The config is not TOML.
    #[error("{}not TOML: {message}", located(file.as_deref(), *line))]
    Toml {
        /// The config file, when read from one.
        file: Option<PathBuf>,
        /// 1-based line of the syntax error.
        line: Option<usize>,
        /// The TOML parser's message.
        message: String,
    },
    /// The config's `source` key is not a list of `[[source]]` tables.
    #[error(
        "{}cannot edit the sources: `source` is not written as [[source]] tables; rewrite it that way",
        located(file.as_deref(), None)
    )]
    Shape {
        /// The config file, when read from one.
        file: Option<PathBuf>,
    },
    /// A source with that name is already in the config.
    #[error("{}a source named `{name}` is already in the config", located(file.as_deref(), None))]
    Duplicate {
        /// The config file, when read from one.
        file: Option<PathBuf>,
        /// The name.
        name: String,
    },
    /// No source has that name.
    #[error(
        "{}no source is named `{name}`{}",
        located(file.as_deref(), None),
        suggestion.as_ref().map_or(String::new(), |s| format!("; did you mean `{s}`?"))
    )]
    Unknown {
        /// The config file, when read from one.
        file: Option<PathBuf>,
        /// The name asked for.
        name: String,
        /// The configured name closest to it, if one is close ([`closest`]).
        suggestion: Option<String>,
    },
    /// The edited config does not load; every problem is in the source error.
    #[error("config: {} not written: the result would not be valid", file.display())]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// Every problem [`Config::parse`] found.
        #[source]
        source: ConfigError,
    },
}

impl EditError {
    /// Names the config file an error from [`SourceEditor`] is about.
    pub fn in_file(self, path: &Path) -> EditError {
        let file = Some(path.to_path_buf());
        match self {
            EditError::Toml {
                file: None,
                line,
                message,
            } => EditError::Toml { file, line, message },
            EditError::Shape { file: None } => EditError::Shape { file },
            EditError::Duplicate { file: None, name } => EditError::Duplicate { file, name },
            EditError::Unknown {
                file: None,
                name,
                suggestion,
            } => EditError::Unknown {
                file,
                name,
                suggestion,
            },
            other => other,
        }
    }
}

/// `FILE:LINE: ` (or less) in front of a message.
pub(crate) fn located(file: Option<&Path>, line: Option<usize>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{}:{l}: ", f.display()),
        (Some(f), None) => format!("{}: ", f.display()),
        (None, Some(l)) => format!("line {l}: "),
        (None, None) => String::new(),
    }
}

/// A source to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSource {
    /// Its name.
    pub name: String,
    /// Its URL or path, as it is to be written.
    pub url: String,
    /// A comment line written above it (without `#`), such as the folder an import found it in.
    pub heading: Option<String>,
    /// A comment written after its name (without `#`), such as a title.
    pub note: Option<String>,
}

/// A config's text, open for editing its sources.
#[derive(Debug, Clone)]
pub struct SourceEditor {
    doc: DocumentMut,
    crlf: bool,
}

impl SourceEditor {
    /// Parses config text. Errors: not TOML, or `source` not written as `[[source]]` tables.
    pub fn parse(text: &str) -> Result<SourceEditor, EditError> {
        let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| EditError::Toml {
            file: None,
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        match doc.get("source") {
            None | Some(Item::ArrayOfTables(_)) => {}
            Some(_) => return Err(EditError::Shape { file: None }),
        }
        let crlf = text.contains("\r\n") && !text.replace("\r\n", "").contains('\n');
        Ok(SourceEditor { doc, crlf })
    }

    /// The name and URL of every `[[source]]`, in file order, trimmed (empty where missing).
    pub fn sources(&self) -> Vec<(String, String)> {
        let field = |t: &Table, key: &str| {
            t.get(key)
                .and_then(Item::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        self.list()
            .map(|list| list.iter().map(|t| (field(t, "name"), field(t, "url"))).collect())
            .unwrap_or_default()
    }

    fn list(&self) -> Option<&ArrayOfTables> {
        self.doc.get("source").and_then(Item::as_array_of_tables)
    }

    /// Adds `source` after the last `[[source]]` (see the module docs). It does not check the
    /// name or the URL: [`save`] checks the whole result.
    pub fn add(&mut self, source: NewSource) {
        let mut table = Table::new();
        table.insert("name", value(source.name.trim()));
        table.insert("url", value(source.url.trim()));
        if let Some(note) = source.note.as_deref().map(one_line).filter(|n| !n.is_empty())
            && let Some(name) = table.get_mut("name").and_then(Item::as_value_mut)
        {
            name.decor_mut().set_suffix(format!("  # {note}"));
        }
        let heading = source
            .heading
            .as_deref()
            .map(one_line)
            .filter(|h| !h.is_empty())
            .map_or(String::new(), |h| format!("# {h}\n"));
        // The comment lines right below the last source are its own: they stay above the new one.
        let last = self
            .list()
            .and_then(|l| l.iter().last())
            .and_then(Table::position);
        let own = match last {
            Some(last) => self.take_own_comments(last),
            None => String::new(),
        };
        let blank = if own.is_empty() && self.doc.to_string().trim().is_empty() {
            ""
        } else {
            "\n"
        };
        table.decor_mut().set_prefix(format!("{own}{blank}{heading}"));
        match self.doc.get_mut("source") {
            Some(Item::ArrayOfTables(list)) => list.push(table),
            _ => {
                let mut list = ArrayOfTables::new();
                list.push(table);
                self.doc.insert("source", Item::ArrayOfTables(list));
            }
        }
    }

    /// Takes out and returns the comment lines that follow the keys of the table at `position`
    /// and are its own: up to a blank line, which separates them from the next table's header
    /// (at the end of the file, all of them).
    fn take_own_comments(&mut self, position: isize) -> String {
        match next_table(&mut self.doc, position) {
            Some(next) => {
                let mut own = String::new();
                with_table_at(&mut self.doc, next, &mut |t| {
                    let prefix = prefix_of(t);
                    let (mine, rest) = split_own(&prefix);
                    own = mine.to_string();
                    let rest = rest.to_string();
                    t.decor_mut().set_prefix(rest);
                });
                own
            }
            None => {
                let trailing = self.doc.trailing().as_str().unwrap_or("").to_string();
                if trailing.trim().is_empty() {
                    return String::new();
                }
                self.doc.set_trailing("");
                trim_blank_end(&trailing).to_string()
            }
        }
    }

    /// Removes the source named `name` (see the module docs for what happens to the lines
    /// around it). Error: no source has that name, with the closest one if any is close.
    pub fn remove(&mut self, name: &str) -> Result<(), EditError> {
        let names: Vec<String> = self.sources().into_iter().map(|(n, _)| n).collect();
        let Some(index) = names.iter().position(|n| n == name.trim()) else {
            return Err(EditError::Unknown {
                file: None,
                name: name.to_string(),
                suggestion: closest(name, names.iter().map(String::as_str)).map(str::to_string),
            });
        };
        let Some(Item::ArrayOfTables(list)) = self.doc.get_mut("source") else {
            unreachable!("a source was found, so `source` is a list of tables");
        };
        let removed = list.remove(index);
        if list.is_empty() {
            self.doc.remove("source");
        }
        // Comment lines above the removed header stay, above whatever follows; its own
        // comments below its keys go with it, as do blank lines.
        let prefix = prefix_of(&removed);
        let kept = if prefix.contains('#') {
            trim_blank_end(&prefix).to_string()
        } else {
            String::new()
        };
        let position = removed.position().unwrap_or(isize::MAX);
        match next_table(&mut self.doc, position) {
            Some(next) => with_table_at(&mut self.doc, next, &mut |t| {
                let own = prefix_of(t);
                let (_, rest) = split_own(&own);
                let joined = format!("{kept}{rest}");
                t.decor_mut().set_prefix(joined);
            }),
            None => {
                let trailing = self.doc.trailing().as_str().unwrap_or("").to_string();
                self.doc.set_trailing(format!("{kept}{trailing}"));
            }
        }
        Ok(())
    }

    /// The edited text.
    pub fn text(&self) -> String {
        let text = self.doc.to_string();
        if self.crlf {
            text.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            text
        }
    }
}

/// A table's prefix decor (the lines above its header) as text.
fn prefix_of(table: &Table) -> String {
    table
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_string()
}

/// The position of the first table with a header after `position`, in document order.
fn next_table(doc: &mut DocumentMut, position: isize) -> Option<isize> {
    let mut next: Option<isize> = None;
    visit_tables(doc.as_table_mut(), &mut |t| {
        if let Some(p) = t.position().filter(|&p| p > position && !t.is_implicit()) {
            next = Some(next.map_or(p, |n| n.min(p)));
        }
    });
    next
}

/// Calls `f` on the table with a header at `position`.
fn with_table_at(doc: &mut DocumentMut, position: isize, f: &mut dyn FnMut(&mut Table)) {
    visit_tables(doc.as_table_mut(), &mut |t| {
        if t.position() == Some(position) && !t.is_implicit() {
            f(t);
        }
    });
}

/// A table's prefix split into the comment lines at its start that a blank line separates from
/// the header (the previous table's own) and the rest.
fn split_own(prefix: &str) -> (&str, &str) {
    let mut end = 0;
    for line in prefix.split_inclusive('\n') {
        if line.trim().is_empty() {
            return prefix.split_at(end);
        }
        if !line.trim_start().starts_with('#') {
            break;
        }
        end += line.len();
    }
    ("", prefix)
}

/// `text` without its trailing blank lines (a final line break is kept).
fn trim_blank_end(text: &str) -> &str {
    let mut end = text.len();
    for line in text.split_inclusive('\n').rev() {
        if !line.trim().is_empty() {
            break;
        }
        end -= line.len();
    }
    &text[..end]
}

/// Calls `f` on every table below `table` (not on `table` itself), depth first.
fn visit_tables(table: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => {
                f(t);
                visit_tables(t, f);
            }
            Item::ArrayOfTables(list) => {
                for t in list.iter_mut() {
                    f(t);
                    visit_tables(t, f);
                }
            }
            _ => {}
        }
    }
}

/// Whitespace runs (line breaks included) as single spaces, trimmed: text fit for a comment.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Reads a config file as UTF-8 text.
pub fn read(path: &Path) -> Result<String, EditError> {
    read_utf8(path).map_err(|source| EditError::Read {
        file: path.to_path_buf(),
        source,
    })
}

/// Reads a file that must be UTF-8 text (text that is not is an `InvalidData` error).
pub fn read_utf8(path: &Path) -> std::io::Result<String> {
    String::from_utf8(std::fs::read(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8: {e}")))
}

/// Checks `text` as the config at `path` would be checked; on success replaces the file with
/// it atomically (a temporary file beside it, then a rename) and returns the config it loads
/// as. On any error the file is left as it was.
pub fn save(path: &Path, text: &str) -> Result<Config, EditError> {
    let config = Config::parse(text, path).map_err(|source| EditError::Invalid {
        file: path.to_path_buf(),
        source,
    })?;
    crate::atomic::replace(path, text.as_bytes(), crate::atomic::Mode::Keep).map_err(|source| {
        EditError::Write {
            file: path.to_path_buf(),
            source,
        }
    })?;
    Ok(config)
}

/// Adds a source to the config file at `path` and saves it ([`save`]). Errors: a source of
/// that name exists, the file is not TOML, or the result does not load (a bad URL, say).
pub fn add_source(path: &Path, source: NewSource) -> Result<Config, EditError> {
    let mut editor = SourceEditor::parse(&read(path)?).map_err(|e| e.in_file(path))?;
    if editor.sources().iter().any(|(n, _)| n == source.name.trim()) {
        return Err(EditError::Duplicate {
            file: Some(path.to_path_buf()),
            name: source.name.trim().to_string(),
        });
    }
    editor.add(source);
    save(path, &editor.text())
}

/// Removes the source `name` from the config file at `path` and saves it ([`save`]). Errors:
/// no source has that name (with the closest name), or the result does not load (an output
/// still lists the source, say).
pub fn remove_source(path: &Path, name: &str) -> Result<Config, EditError> {
    let mut editor = SourceEditor::parse(&read(path)?).map_err(|e| e.in_file(path))?;
    editor.remove(name).map_err(|e| e.in_file(path))?;
    save(path, &editor.text())
}

/// Writes [`STARTER`] to `path`, which must not exist yet ([`EditError::Exists`]).
pub fn init(path: &Path) -> Result<(), EditError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                EditError::Exists {
                    file: path.to_path_buf(),
                }
            } else {
                EditError::Write {
                    file: path.to_path_buf(),
                    source,
                }
            }
        })?;
    file.write_all(STARTER.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| EditError::Write {
            file: path.to_path_buf(),
            source,
        })
}

/// The name among `names` that `name` is most likely a slip for: the most alike, ignoring case
/// and script (`陝西日報` is `陕西日报`), by Jaro-Winkler similarity of at least 0.85. None when
/// none is that close.
pub fn closest<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let folded = |text: &str| crate::transform::normalize::fold_light(text.trim()).to_lowercase();
    super::suggest::most_alike(name, names, folded, 0.85)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config/example.toml");
    const FIXTURE: &str = include_str!("../../tests/fixtures/opml/feeds.toml");

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/feedfold/feeds.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn added(text: &str, source: NewSource) -> String {
        let mut editor = SourceEditor::parse(text).expect("toml");
        editor.add(source);
        editor.text()
    }

    fn new(name: &str, url: &str) -> NewSource {
        NewSource {
            name: name.into(),
            url: url.into(),
            ..NewSource::default()
        }
    }

    #[test]
    fn a_new_source_goes_after_the_last_source_and_the_rest_is_kept() {
        let text = added(FIXTURE, new("scmp", "https://www.scmp.com/rss/4/feed"));
        let block = "\n[[source]]\nname = \"scmp\"\nurl = \"https://www.scmp.com/rss/4/feed\"\n";
        let at = FIXTURE.find("\n\n# One merged feed").expect("fixture");
        assert_eq!(
            text,
            format!("{}{block}{}", &FIXTURE[..at + 1], &FIXTURE[at + 1..])
        );
        let cfg = parse(&text);
        let names: Vec<_> = cfg.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sixth-tone", "local-sample", "scmp"]);
        assert_eq!(cfg.outputs.len(), 2);
    }

    #[test]
    fn adding_then_removing_gives_back_the_file_byte_for_byte() {
        let trailing = "[[source]]\nname = \"a\"\nurl = \"a.xml\"\n# interval = \"1h\"\n";
        let before_output = format!("{trailing}\n# outputs\n[[output]]\nname = \"o\"\ntitle = \"O\"\n");
        for original in [
            EXAMPLE,
            FIXTURE,
            STARTER,
            "",
            "[store]\nurl = \"sqlite://x.db\"\n",
            trailing,
            &before_output,
        ] {
            let with = added(
                original,
                NewSource {
                    name: "new one".into(),
                    url: "https://n.example/rss".into(),
                    heading: None,
                    note: Some("A  title\nover lines".into()),
                },
            );
            assert!(
                with.contains("name = \"new one\"  # A title over lines\n"),
                "{with}"
            );
            if original.starts_with(trailing) {
                assert!(
                    with.starts_with(&format!("{trailing}\n[[source]]\nname = \"new one\"")),
                    "the last source keeps its own comment: {with}"
                );
            }
            let mut editor = SourceEditor::parse(&with).expect("toml");
            editor.remove("new one").expect("remove");
            assert_eq!(editor.text(), original);
        }
    }

    #[test]
    fn removing_a_source_keeps_the_comments_above_it_and_drops_its_own() {
        let mut editor = SourceEditor::parse(FIXTURE).expect("toml");
        editor.remove("sixth-tone").expect("remove");
        let text = editor.text();
        assert!(!text.contains("name = \"sixth-tone\""), "{text}");
        assert!(
            !text.contains("# region = \"310000\""),
            "its own comment goes: {text}"
        );
        assert!(
            text.contains(
                "# Wire services first.\n\n[[source]]\nname   = \"local-sample\"   # aligned on purpose"
            ),
            "{text}"
        );
        // The output that named it makes the result invalid: `save` would refuse it.
        assert!(Config::parse(&text, Path::new("/x/feeds.toml")).is_err());

        let mut editor = SourceEditor::parse(FIXTURE).expect("toml");
        editor.remove("local-sample").expect("remove");
        let text = editor.text();
        assert!(
            text.contains("# region = \"310000\"\n\n# One merged feed"),
            "{text}"
        );
        assert_eq!(parse(&text).sources.len(), 1);

        let last = "[[source]]\nname = \"a\"\nurl = \"a.xml\"\n\n# about b\n[[source]]\nname = \"b\"\nurl = \"b.xml\"\n# the end\n";
        let mut editor = SourceEditor::parse(last).expect("toml");
        editor.remove("b").expect("remove");
        assert_eq!(
            editor.text(),
            "[[source]]\nname = \"a\"\nurl = \"a.xml\"\n\n# about b\n# the end\n"
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_with_the_closest_name() {
        let mut editor = SourceEditor::parse(FIXTURE).expect("toml");
        let err = editor.remove("sixth-tome").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "no source is named `sixth-tome`; did you mean `sixth-tone`?"
        );
        let err = editor
            .remove("zzz")
            .expect_err("unknown")
            .in_file(Path::new("f.toml"));
        assert_eq!(err.to_string(), "f.toml: no source is named `zzz`");
        assert_eq!(editor.text(), FIXTURE);
    }

    #[test]
    fn closest_ignores_case_and_script_and_wants_a_close_name() {
        let names = ["xian-daily", "qinchuan", "Sixth Tone", "陕西日报"];
        assert_eq!(closest("xian-dialy", names), Some("xian-daily"));
        assert_eq!(closest("SIXTH TONE", names), Some("Sixth Tone"));
        assert_eq!(closest("qinchuan-news", names), Some("qinchuan"));
        assert_eq!(closest("陝西日報", names), Some("陕西日报"));
        // Jaro-Winkler 0.82: alike in letters, not a slip.
        assert_eq!(closest("xinhua", names), None);
        assert_eq!(closest("bbc", names), None);
        assert_eq!(closest("x", []), None);
    }

    #[test]
    fn crlf_files_keep_their_line_ends_and_inline_sources_are_refused() {
        let crlf = "# sources\r\n[[source]]\r\nname = \"a\"\r\nurl = \"https://a.example/\"\r\n";
        let text = added(crlf, new("b", "https://b.example/"));
        assert_eq!(
            text,
            format!("{crlf}\r\n[[source]]\r\nname = \"b\"\r\nurl = \"https://b.example/\"\r\n")
        );
        let inline = "source = [{ name = \"a\", url = \"https://a.example/\" }]\n";
        assert!(matches!(
            SourceEditor::parse(inline),
            Err(EditError::Shape { .. })
        ));
        let Err(EditError::Toml { line, .. }) = SourceEditor::parse("[store]\nurl = \"x\"\nbroken = \n")
        else {
            panic!("not TOML")
        };
        assert_eq!(line, Some(3));
    }

    #[test]
    fn the_starter_config_loads() {
        let cfg = parse(STARTER);
        assert_eq!(cfg.sources.len(), 1);
        assert_eq!(cfg.outputs.len(), 1);
        assert_eq!(cfg.store.url, "sqlite:///etc/feedfold/feedfold.db?mode=rwc");
    }
}
