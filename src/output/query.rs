//! Keyword filters: the query language of an output's `keywords = '…'`.
//!
//! In: a query expression, and for each item a [`Doc`] (title, plain-text content, authors,
//! categories, source name). Out: [`Query::parse`] turns the expression into a [`Query`], or into
//! a [`QueryError`] giving the 0-based character position and what is wrong; [`Query::matches`]
//! says whether one item passes the filter. Parse once, then match as many items as you like.
//!
//! # Writing a query
//!
//! ```text
//! 卫健委 通报                        both terms (terms side by side are ANDed)
//! 卫健委 OR 疾控中心                 either term
//! 疫情 -演练                         疫情 but not 演练 (`疫情 NOT 演练` is the same)
//! "supply chain"                     these words, in this order
//! title:(卫健委 OR 疫情)             either term, in the title
//! vaccine -source:"Example Daily"    vaccine, except in items from that source
//! /covid-?19/                        a regular expression
//! ```
//!
//! - Terms side by side must all match (AND). `AND` may also be written out.
//! - `OR` between two terms or groups: either one matches. Only upper-case `AND`, `OR` and `NOT`
//!   are operators; `or` is an ordinary term (and `"OR"` searches for the word "or").
//! - `NOT term`, or `-term` with no space after the dash: the term must not match.
//! - `"a quoted phrase"`: these words, in this order (see Matching). “Curly” quotes work too.
//! - `( … )` groups.
//! - `field:` written right before a term, phrase, regex or group (no space after the colon)
//!   restricts it to one field: `title:`, `content:`, `author:`, `category:` or `source:`
//!   (field names are case-insensitive). A term without a field matches if it matches in any
//!   field. `author:` and `category:` match if any one author or category does. A field inside
//!   a group of another field (`title:(a content:b)`) is an error; `-title:a` negates a scoped
//!   term (`title:-a` is an error).
//! - `/regex/`: a regular expression (see Matching).
//!
//! Precedence, tightest first: `NOT` and `-`, then AND, then `OR`. So `a OR b c` means
//! `a OR (b c)`, and `-a b` means `(-a) b`. Use parentheses when in doubt.
//!
//! # Grammar
//!
//! ```text
//! query   = or ;
//! or      = and , { "OR" , and } ;
//! and     = unary , { [ "AND" ] , unary } ;
//! unary   = { "NOT" | "-" } , scoped ;          (* "-" is written right against its operand *)
//! scoped  = [ field , ":" ] , atom ;            (* no space after the colon *)
//! atom    = term | phrase | regex | "(" , or , ")" ;
//! field   = "title" | "content" | "author" | "category" | "source" ;
//! phrase  = '"' , { char - '"' | "\" , char } , '"' ;
//! regex   = "/" , { char - "/" | "\" , char } , "/" ;   (* then a space, a bracket or the end *)
//! term    = first , { rest } ;                  (* but not the words AND, OR, NOT *)
//! rest    = char - ( space | "(" | ")" | '"' ) ;
//! first   = rest - ( "-" | "/" ) ;
//! ```
//!
//! Whitespace separates terms. Full-width forms count as their ASCII selves (`（`, `）`, `：`,
//! `＂`, `－`, `／`, the ideographic space) and `“` `”` count as `"`, so a query typed with a
//! Chinese input method works. In a phrase, `\"` is a literal quote; in a regex, `\/` is a literal
//! slash. A term that starts with `-` or `/`, or is one of the operator words, must be quoted.
//!
//! **Colons.** ASCII letters, a colon and then more text (`foo:bar`) is a field scope, and an
//! unknown field name is an error, which catches typos like `titel:`. To search for such text as
//! written, quote it: `"foo:bar"`. These are plain terms, not scopes: a colon after text
//! that is not all ASCII letters (`10:30`, `通报:疫情`, `mp3:x`), a colon ending the term
//! (`note:`), a double colon (`std::io`) and a URL (`https://example.com`). `title:` followed by
//! a space or the end is an error.
//!
//! # Matching
//!
//! The query's terms and each field of the document are folded the same way before comparing:
//! [`fold_light`] (NFKC, traditional and variant characters to simplified, `濟(jì)` pinyin
//! annotations removed, punctuation kept), then lower case. So matching ignores case and script:
//! `衛健委` finds `卫健委` and `卫健委` finds `衛健委`.
//!
//! - A term with CJK characters (Han, kana, Hangul; [`is_cjk`]) is found anywhere, inside
//!   longer text: `卫健委` matches `陕西省卫健委通报`.
//! - Other terms match whole words: `art` matches `Art`, `art,` and `pop-art`, but not `party`
//!   or `artist`. Precisely: where a term begins (ends) with a non-CJK letter or digit, the text
//!   character before (after) the match must not be one; CJK characters count as word breaks,
//!   so `ai` matches `AI芯片`, and a mixed term like `A股` must begin on a word break. A term
//!   ending in punctuation (`c++`) has no boundary at that end.
//! - A phrase is its words in order, with the same rule at its two ends. Each run of whitespace
//!   in the phrase matches a run of whitespace in the text (spaces, tabs, line breaks); next to a
//!   CJK character it may also match nothing, as Chinese is written without spaces:
//!   `"卫健委 通报"` matches `卫健委通报`. Punctuation is never skipped: `"new york"` does not
//!   match `new-york`.
//! - A regex ([`regex`] crate syntax) runs against the folded, lower-cased text of a field and
//!   is case-insensitive; it matches anywhere unless anchored. CJK characters in the pattern are
//!   folded too (`/衛健委.*通報/` works), and full-width forms are read as ASCII as everywhere
//!   in a query, so `（` in a pattern is a regex group; the text has full-width punctuation as
//!   ASCII, so `\(` matches both kinds of bracket. `^` and `$` are the start and end of a field
//!   (each author and each category on its own).
//!
//! # Limits and errors
//!
//! An expression may have at most [`MAX_EXPRESSION_CHARS`] characters,
//! [`MAX_DEPTH`] levels of nested parentheses and [`MAX_TERMS`] terms, phrases and regexes; a
//! regex may compile to at most [`MAX_REGEX_BYTES`] bytes. [`QueryError`] displays as
//! `at character N: message` (N counts characters from 0) for these, for unbalanced
//! parentheses, `AND` / `OR` / `NOT` / `-` without a term where one is needed, an empty
//! expression, phrase, regex or group, an unknown field, a field without a term, an unterminated
//! quote or regex, and a regex that does not compile.

use std::cell::OnceCell;
use std::iter::Peekable;
use std::str::FromStr;
use std::vec::IntoIter;

use regex::{Regex, RegexBuilder};

use crate::transform::normalize::{fold_light, is_cjk};

/// The longest expression [`Query::parse`] accepts, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 4096;

/// How deeply parentheses may nest.
pub const MAX_DEPTH: usize = 32;

/// How many terms, phrases and regexes an expression may have.
pub const MAX_TERMS: usize = 256;

/// The most memory one regex may compile to (its program, and separately its lazy DFA cache).
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// What went wrong parsing a query, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct QueryError {
    /// Where the problem is: a character offset into the expression, counting from 0.
    pub position: usize,
    /// What the problem is, in words for the person who wrote the expression.
    pub message: String,
}

impl QueryError {
    fn new(position: usize, message: impl Into<String>) -> QueryError {
        QueryError {
            position,
            message: message.into(),
        }
    }
}

/// The text of one item, as [`Query::matches`] sees it. Every field is plain text (not HTML).
#[derive(Clone, Copy, Debug, Default)]
pub struct Doc<'a> {
    /// The title.
    pub title: &'a str,
    /// The body or summary.
    pub content: &'a str,
    /// The authors' names.
    pub authors: &'a [String],
    /// The categories (tags).
    pub categories: &'a [String],
    /// The name of the source the item came from.
    pub source: &'a str,
}

/// A parsed keyword filter: see the [module documentation](self) for the language.
///
/// Regexes are compiled once, when parsing; matching folds the document's fields (only those the
/// query needs) on each call.
#[derive(Clone, Debug)]
pub struct Query {
    root: Node,
}

impl Query {
    /// Parses a query expression. Errors say where (a character offset from 0) and what is wrong.
    pub fn parse(expr: &str) -> Result<Query, QueryError> {
        if expr.len() > MAX_EXPRESSION_CHARS && expr.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(QueryError::new(
                MAX_EXPRESSION_CHARS,
                format!("the expression is longer than {MAX_EXPRESSION_CHARS} characters"),
            ));
        }
        let tokens = lex(expr)?;
        if tokens.is_empty() {
            return Err(QueryError::new(0, "empty expression: write at least one term"));
        }
        let mut parser = Parser {
            tokens: tokens.into_iter().peekable(),
            depth: 0,
        };
        let root = parser.or(None)?;
        match parser.tokens.next() {
            None => Ok(Query { root }),
            // `or` stops only at the end or at a `)` it has no `(` for.
            Some(token) => Err(QueryError::new(token.pos, "`)` without a matching `(`")),
        }
    }

    /// Whether the document passes the filter.
    pub fn matches(&self, doc: &Doc<'_>) -> bool {
        self.root.eval(&Folded::new(doc))
    }
}

impl FromStr for Query {
    type Err = QueryError;

    /// Same as [`Query::parse`].
    fn from_str(expr: &str) -> Result<Query, QueryError> {
        Query::parse(expr)
    }
}

/// A field scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Title,
    Content,
    Author,
    Category,
    Source,
}

impl Field {
    /// The order unscoped terms try the fields in: small ones first, as each is folded lazily.
    const ALL: [Field; 5] = [
        Field::Title,
        Field::Source,
        Field::Author,
        Field::Category,
        Field::Content,
    ];

    fn from_name(name: &str) -> Option<Field> {
        match name.to_ascii_lowercase().as_str() {
            "title" => Some(Field::Title),
            "content" => Some(Field::Content),
            "author" => Some(Field::Author),
            "category" => Some(Field::Category),
            "source" => Some(Field::Source),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
            Field::Source => "source",
        }
    }
}

/// What one term, phrase or regex looks for in one field's folded text.
#[derive(Clone, Debug)]
enum Matcher {
    /// Folded, lower-cased words, in order (a term is usually one word); never empty.
    Words(Vec<String>),
    Regex(Regex),
}

impl Matcher {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Matcher::Words(words) => words_match(text, words),
            Matcher::Regex(regex) => regex.is_match(text),
        }
    }
}

#[derive(Clone, Debug)]
enum Node {
    /// In one field, or (`None`) in any.
    Match {
        field: Option<Field>,
        matcher: Matcher,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Node {
    fn eval(&self, doc: &Folded<'_, '_>) -> bool {
        match self {
            Node::Match { field, matcher } => doc.any(*field, &|text| matcher.is_match(text)),
            Node::Not(node) => !node.eval(doc),
            Node::And(nodes) => nodes.iter().all(|node| node.eval(doc)),
            Node::Or(nodes) => nodes.iter().any(|node| node.eval(doc)),
        }
    }
}

/// Query terms and document text are compared in this form.
fn fold_text(text: &str) -> String {
    fold_light(text).to_lowercase()
}

/// A document's fields, folded when first needed.
struct Folded<'d, 'a> {
    doc: &'d Doc<'a>,
    title: OnceCell<String>,
    content: OnceCell<String>,
    authors: OnceCell<Vec<String>>,
    categories: OnceCell<Vec<String>>,
    source: OnceCell<String>,
}

impl<'d, 'a> Folded<'d, 'a> {
    fn new(doc: &'d Doc<'a>) -> Folded<'d, 'a> {
        Folded {
            doc,
            title: OnceCell::new(),
            content: OnceCell::new(),
            authors: OnceCell::new(),
            categories: OnceCell::new(),
            source: OnceCell::new(),
        }
    }

    fn field(&self, field: Field, test: &dyn Fn(&str) -> bool) -> bool {
        let one = |cell: &OnceCell<String>, text: &str| test(cell.get_or_init(|| fold_text(text)));
        let each = |cell: &OnceCell<Vec<String>>, texts: &[String]| {
            cell.get_or_init(|| texts.iter().map(|t| fold_text(t)).collect())
                .iter()
                .any(|t| test(t))
        };
        match field {
            Field::Title => one(&self.title, self.doc.title),
            Field::Content => one(&self.content, self.doc.content),
            Field::Source => one(&self.source, self.doc.source),
            Field::Author => each(&self.authors, self.doc.authors),
            Field::Category => each(&self.categories, self.doc.categories),
        }
    }

    fn any(&self, field: Option<Field>, test: &dyn Fn(&str) -> bool) -> bool {
        match field {
            Some(field) => self.field(field, test),
            None => Field::ALL.iter().any(|&field| self.field(field, test)),
        }
    }
}

/// A letter or digit that words are made of; CJK characters are words of their own.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Whether `words` occur in `text` in order, separated by whitespace, on word boundaries at
/// their Latin ends (see the module documentation).
fn words_match(text: &str, words: &[String]) -> bool {
    let (Some((first, rest)), Some(last)) = (words.split_first(), words.last()) else {
        return false;
    };
    let open = first.chars().next().is_some_and(is_word);
    let close = last.chars().next_back().is_some_and(is_word);
    let mut from = 0;
    // Every occurrence, overlapping ones included: the one that fails a boundary check may
    // overlap the one that passes.
    while let Some(found) = text[from..].find(first.as_str()) {
        let start = from + found;
        let opens = !open || !text[..start].chars().next_back().is_some_and(is_word);
        if opens
            && let Some(end) = match_rest(text, start + first.len(), first, rest)
            && (!close || !text[end..].chars().next().is_some_and(is_word))
        {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Matches the phrase words after the first from byte `pos`: where they end, if they do.
fn match_rest(text: &str, mut pos: usize, first: &str, rest: &[String]) -> Option<usize> {
    let mut previous = first;
    for word in rest {
        let gap: usize = text[pos..]
            .chars()
            .take_while(|c| c.is_whitespace())
            .map(char::len_utf8)
            .sum();
        let may_touch =
            previous.chars().next_back().is_some_and(is_cjk) || word.chars().next().is_some_and(is_cjk);
        if gap == 0 && !may_touch {
            return None;
        }
        pos += gap;
        if !text[pos..].starts_with(word.as_str()) {
            return None;
        }
        pos += word.len();
        previous = word;
    }
    Some(pos)
}

// ---- Lexer ----

#[derive(Debug)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Field(Field),
    Match(Matcher),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    /// Character offset in the expression.
    pos: usize,
}

/// Full-width ASCII forms and the ideographic space as ASCII, as [`fold_light`] does to text.
fn widen(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

/// Ends a term.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || is_quote(c)
}

/// A term's or phrase's folded words; an error if folding leaves nothing.
fn fold_words(text: &str, pos: usize, what: &str) -> Result<Vec<String>, QueryError> {
    let words: Vec<String> = fold_text(text).split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Err(QueryError::new(
            pos,
            format!("empty {what}: nothing to search for"),
        ));
    }
    Ok(words)
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    terms: usize,
    tokens: Vec<Token>,
}

fn lex(expr: &str) -> Result<Vec<Token>, QueryError> {
    let mut lexer = Lexer {
        chars: expr.chars().map(widen).collect(),
        i: 0,
        terms: 0,
        tokens: Vec::new(),
    };
    while let Some(&c) = lexer.chars.get(lexer.i) {
        let pos = lexer.i;
        match c {
            c if c.is_whitespace() => lexer.i += 1,
            '(' => lexer.push(Tok::LParen, pos, 1),
            ')' => lexer.push(Tok::RParen, pos, 1),
            c if is_quote(c) => lexer.phrase(pos)?,
            '/' => lexer.regex(pos)?,
            '-' => lexer.minus(pos)?,
            _ => {
                if !lexer.field(pos)? {
                    lexer.term(pos)?;
                }
            }
        }
    }
    Ok(lexer.tokens)
}

impl Lexer {
    fn push(&mut self, tok: Tok, pos: usize, len: usize) {
        self.tokens.push(Token { tok, pos });
        self.i = pos + len;
    }

    fn count_term(&mut self, pos: usize) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(QueryError::new(
                pos,
                format!("too many terms: at most {MAX_TERMS} terms, phrases and regexes"),
            ));
        }
        Ok(())
    }

    fn minus(&mut self, pos: usize) -> Result<(), QueryError> {
        match self.chars.get(pos + 1) {
            Some(&next) if !next.is_whitespace() && next != ')' => {
                self.push(Tok::Minus, pos, 1);
                Ok(())
            }
            _ => Err(QueryError::new(
                pos,
                "`-` needs a term right after it, with no space (to search for a dash, write \"-\")",
            )),
        }
    }

    /// A field scope at `pos`, if there is one: pushes it and returns true. An unknown field
    /// name is an error; text that is not a scope attempt (see the module documentation) is left
    /// for [`Lexer::term`].
    fn field(&mut self, pos: usize) -> Result<bool, QueryError> {
        let letters = self.chars[pos..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if letters == 0 || self.chars.get(pos + letters) != Some(&':') {
            return Ok(false);
        }
        let name: String = self.chars[pos..pos + letters].iter().collect();
        let after = self.chars.get(pos + letters + 1).copied();
        let ends = after.is_none_or(|c| c.is_whitespace() || c == ')');
        match Field::from_name(&name) {
            Some(_) if ends => Err(QueryError::new(
                pos,
                format!("`{name}:` needs a term, \"phrase\", /regex/ or (group) right after the colon"),
            )),
            Some(field) => {
                self.push(Tok::Field(field), pos, letters + 1);
                Ok(true)
            }
            None => {
                let url = after == Some('/') && self.chars.get(pos + letters + 2) == Some(&'/');
                if ends || url || after == Some(':') {
                    return Ok(false);
                }
                let len = self.chars[pos..]
                    .iter()
                    .take_while(|&&c| !is_delimiter(c))
                    .count();
                let written: String = self.chars[pos..pos + len].iter().collect();
                Err(QueryError::new(
                    pos,
                    format!(
                        "unknown field `{name}:`; the fields are title:, content:, author:, category: and \
                         source: (to search for `{written}` as written, put it in quotes)"
                    ),
                ))
            }
        }
    }

    fn term(&mut self, pos: usize) -> Result<(), QueryError> {
        let len = self.chars[pos..]
            .iter()
            .take_while(|&&c| !is_delimiter(c))
            .count();
        let text: String = self.chars[pos..pos + len].iter().collect();
        let tok = match text.as_str() {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "NOT" => Tok::Not,
            _ => {
                self.count_term(pos)?;
                Tok::Match(Matcher::Words(fold_words(&text, pos, "term")?))
            }
        };
        self.push(tok, pos, len);
        Ok(())
    }

    fn phrase(&mut self, pos: usize) -> Result<(), QueryError> {
        self.count_term(pos)?;
        let mut text = String::new();
        let mut i = pos + 1;
        loop {
            match self.chars.get(i) {
                None => {
                    return Err(QueryError::new(
                        pos,
                        "unterminated phrase: this quote is never closed",
                    ));
                }
                Some(&c) if is_quote(c) => break,
                Some('\\') if i + 1 < self.chars.len() => {
                    text.push(self.chars[i + 1]);
                    i += 2;
                }
                Some(&c) => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        let words = fold_words(&text, pos, "phrase")?;
        self.push(Tok::Match(Matcher::Words(words)), pos, i + 1 - pos);
        Ok(())
    }

    fn regex(&mut self, pos: usize) -> Result<(), QueryError> {
        self.count_term(pos)?;
        let mut pattern = String::new();
        let mut i = pos + 1;
        loop {
            match self.chars.get(i) {
                None => {
                    return Err(QueryError::new(
                        pos,
                        "unterminated /regex/: this `/` is never closed (write a slash inside as `\\/`)",
                    ));
                }
                Some('/') => break,
                Some('\\') if i + 1 < self.chars.len() => {
                    // Kept as written: the regex crate reads `\/` as a slash.
                    pattern.push('\\');
                    pattern.push(self.chars[i + 1]);
                    i += 2;
                }
                Some(&c) if is_cjk(c) => {
                    // One character folds to one character; the pattern's syntax is unchanged.
                    let folded = fold_light(c.encode_utf8(&mut [0; 4]));
                    let mut chars = folded.chars();
                    match (chars.next(), chars.next()) {
                        (Some(f), None) => pattern.push(f),
                        _ => pattern.push(c),
                    }
                    i += 1;
                }
                Some(&c) => {
                    pattern.push(c);
                    i += 1;
                }
            }
        }
        if pattern.is_empty() {
            return Err(QueryError::new(pos, "empty /regex/"));
        }
        if let Some(&next) = self.chars.get(i + 1)
            && !is_delimiter(next)
        {
            return Err(QueryError::new(
                i + 1,
                "a /regex/ must be followed by a space, a bracket or the end (flags like /…/i are not \
                 supported: regexes are always case-insensitive)",
            ));
        }
        let regex = RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .size_limit(MAX_REGEX_BYTES)
            .dfa_size_limit(MAX_REGEX_BYTES)
            .build()
            .map_err(|e| QueryError::new(pos, format!("invalid /regex/: {}", describe(&e))))?;
        self.push(Tok::Match(Matcher::Regex(regex)), pos, i + 1 - pos);
        Ok(())
    }
}

/// A regex error in one line.
fn describe(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => text
            .lines()
            .find_map(|line| line.strip_prefix("error: "))
            .map_or_else(
                || text.split_whitespace().collect::<Vec<_>>().join(" "),
                String::from,
            ),
        regex::Error::CompiledTooBig(limit) => {
            format!("too large once compiled (the limit is {limit} bytes); make it simpler")
        }
        other => other.to_string(),
    }
}

// ---- Parser ----

struct Parser {
    tokens: Peekable<IntoIter<Token>>,
    /// Open parentheses around the current position.
    depth: usize,
}

/// Whether a token can begin an operand of AND / OR.
fn starts_unary(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::LParen | Tok::Not | Tok::Minus | Tok::Field(_) | Tok::Match(_)
    )
}

impl Parser {
    fn peek(&mut self) -> Option<&Tok> {
        self.tokens.peek().map(|t| &t.tok)
    }

    fn next_starts_unary(&mut self) -> bool {
        self.peek().is_some_and(starts_unary)
    }

    /// `and { "OR" and }`.
    fn or(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let mut nodes = vec![self.and(scope)?];
        while let Some(Token { tok: Tok::Or, pos }) = self.tokens.peek() {
            let pos = *pos;
            self.tokens.next();
            if !self.next_starts_unary() {
                return Err(QueryError::new(pos, "`OR` needs a term after it"));
            }
            nodes.push(self.and(scope)?);
        }
        Ok(one_or(nodes, Node::Or))
    }

    /// `unary { ["AND"] unary }`.
    fn and(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        if let Some(token) = self.tokens.peek() {
            let message = match token.tok {
                Tok::Or => Some("`OR` needs a term before it"),
                Tok::And => Some("`AND` needs a term before it"),
                Tok::RParen => Some("`)` without a matching `(`"),
                _ => None,
            };
            if let Some(message) = message {
                return Err(QueryError::new(token.pos, message));
            }
        }
        let mut nodes = vec![self.unary(scope)?];
        loop {
            match self.tokens.peek() {
                Some(Token { tok: Tok::And, pos }) => {
                    let pos = *pos;
                    self.tokens.next();
                    if !self.next_starts_unary() {
                        return Err(QueryError::new(pos, "`AND` needs a term after it"));
                    }
                }
                Some(token) if starts_unary(&token.tok) => {}
                _ => break,
            }
            nodes.push(self.unary(scope)?);
        }
        Ok(one_or(nodes, Node::And))
    }

    /// `{ "NOT" | "-" } scoped`, without recursing per negation.
    fn unary(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let mut negations = 0usize;
        let mut last = None;
        while let Some(token) = self.tokens.peek() {
            let message = match token.tok {
                Tok::Not => "`NOT` needs a term after it",
                Tok::Minus => "`-` needs a term right after it",
                _ => break,
            };
            last = Some((token.pos, message));
            negations += 1;
            self.tokens.next();
        }
        if let Some((pos, message)) = last
            && !matches!(self.peek(), Some(Tok::LParen | Tok::Field(_) | Tok::Match(_)))
        {
            return Err(QueryError::new(pos, message));
        }
        let node = self.scoped(scope)?;
        Ok(if negations % 2 == 1 {
            Node::Not(Box::new(node))
        } else {
            node
        })
    }

    /// `[field ":"] atom`.
    fn scoped(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let Some(&Token {
            tok: Tok::Field(field),
            pos,
        }) = self.tokens.peek()
        else {
            return self.atom(scope);
        };
        self.tokens.next();
        if let Some(outer) = scope
            && outer != field
        {
            return Err(QueryError::new(
                pos,
                format!(
                    "`{}:` inside `{}:`: a term is looked for in one field",
                    field.name(),
                    outer.name()
                ),
            ));
        }
        if !matches!(self.peek(), Some(Tok::LParen | Tok::Match(_))) {
            return Err(QueryError::new(
                pos,
                format!(
                    "`{0}:` must be followed directly by a term, \"phrase\", /regex/ or (group) \
                     (to exclude, write -{0}:term)",
                    field.name()
                ),
            ));
        }
        self.atom(Some(field))
    }

    /// `term | phrase | regex | "(" or ")"`.
    fn atom(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let Some(token) = self.tokens.next() else {
            // Callers check that an atom follows; kept as an error rather than a panic.
            return Err(QueryError::new(0, "expected a term"));
        };
        match token.tok {
            Tok::Match(matcher) => Ok(Node::Match {
                field: scope,
                matcher,
            }),
            Tok::LParen => {
                if self.depth >= MAX_DEPTH {
                    return Err(QueryError::new(
                        token.pos,
                        format!("parentheses nested more than {MAX_DEPTH} deep"),
                    ));
                }
                match self.peek() {
                    None => return Err(QueryError::new(token.pos, "`(` is never closed")),
                    Some(Tok::RParen) => {
                        return Err(QueryError::new(
                            token.pos,
                            "empty parentheses: nothing to search for",
                        ));
                    }
                    Some(_) => {}
                }
                self.depth += 1;
                let node = self.or(scope)?;
                self.depth -= 1;
                match self.tokens.next() {
                    Some(Token { tok: Tok::RParen, .. }) => Ok(node),
                    _ => Err(QueryError::new(token.pos, "`(` is never closed")),
                }
            }
            _ => Err(QueryError::new(
                token.pos,
                "expected a term, \"phrase\", /regex/ or (group)",
            )),
        }
    }
}

/// The node itself if there is one, else the nodes combined.
fn one_or(mut nodes: Vec<Node>, combine: fn(Vec<Node>) -> Node) -> Node {
    if nodes.len() == 1
        && let Some(node) = nodes.pop()
    {
        node
    } else {
        combine(nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(expr: &str) -> Query {
        Query::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
    }

    fn title(text: &str) -> Doc<'_> {
        Doc {
            title: text,
            ..Doc::default()
        }
    }

    /// Whether `expr` matches a document with `text` as its title.
    fn m(expr: &str, text: &str) -> bool {
        q(expr).matches(&title(text))
    }

    /// The README's "Keyword queries" table: each query matches the item in its second column
    /// and not the one in its third. An item is its title, or `field: text` parts joined by `; `.
    #[test]
    fn the_readme_examples_hold() {
        const README: &str = include_str!("../../README.md");
        let section = README
            .split("\n## Keyword queries\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("a Keyword queries section");
        let mut rows = 0;
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let [query, yes, no] = cells[..] else {
                panic!("a row of three cells: {line}")
            };
            let query = query
                .strip_prefix('`')
                .and_then(|q| q.strip_suffix('`'))
                .expect("`query`");
            let parsed = q(query);
            for (item, expected) in [(yes, true), (no, false)] {
                let mut title = "";
                let (mut content, mut source) = ("", "");
                let (mut authors, mut categories) = (Vec::new(), Vec::new());
                for part in item.split("; ") {
                    match part.split_once(": ") {
                        Some(("content", text)) => content = text,
                        Some(("source", text)) => source = text,
                        Some(("author", text)) => authors.push(text.to_string()),
                        Some(("category", text)) => categories.push(text.to_string()),
                        _ => title = part,
                    }
                }
                let doc = Doc {
                    title,
                    content,
                    authors: &authors,
                    categories: &categories,
                    source,
                };
                assert_eq!(parsed.matches(&doc), expected, "`{query}` on {item}");
            }
            rows += 1;
        }
        assert!(rows >= 10, "the table has {rows} rows");
    }

    fn err(expr: &str) -> QueryError {
        match Query::parse(expr) {
            Ok(query) => panic!("{expr:?} should not parse, got {query:?}"),
            Err(e) => e,
        }
    }

    /// The error's position, checking that its message mentions `needle`.
    fn err_at(expr: &str, needle: &str) -> usize {
        let e = err(expr);
        assert!(
            e.message.contains(needle),
            "{expr:?}: {e} should mention {needle:?}"
        );
        e.position
    }

    #[test]
    fn query_is_clone_debug_send_sync() {
        fn check<T: Clone + std::fmt::Debug + Send + Sync>() {}
        check::<Query>();
        check::<QueryError>();
        let query = q("a /b/").clone();
        assert!(format!("{query:?}").contains("Regex"));
    }

    #[test]
    fn from_str_and_display() {
        let query: Query = "卫健委".parse().expect("parses");
        assert!(query.matches(&title("陕西省卫健委通报")));
        let e = "a OR".parse::<Query>().expect_err("dangling OR");
        assert_eq!(e.to_string(), "at character 2: `OR` needs a term after it");
    }

    #[test]
    fn terms_side_by_side_are_anded() {
        assert!(m("apple banana", "banana and apple"));
        assert!(!m("apple banana", "apple pie"));
        assert!(m("疫情 通报", "疫情防控通报"));
        assert!(!m("疫情 通报", "疫情防控"));
    }

    #[test]
    fn explicit_and() {
        assert!(m("apple AND banana", "apple, banana"));
        assert!(!m("apple AND banana", "apple"));
        // Lower-case `and` is a term.
        assert!(!m("apple and banana", "apple banana"));
        assert!(m("apple and banana", "apple and banana"));
    }

    #[test]
    fn or() {
        assert!(m("apple OR banana", "an apple"));
        assert!(m("apple OR banana", "a banana"));
        assert!(!m("apple OR banana", "a cherry"));
        assert!(m("apple OR banana OR cherry", "a cherry"));
        // Lower-case `or` is a term.
        assert!(!m("apple or banana", "an apple"));
    }

    #[test]
    fn not_and_minus() {
        assert!(m("疫情 -演练", "疫情通报"));
        assert!(!m("疫情 -演练", "疫情应急演练"));
        assert!(m("疫情 NOT 演练", "疫情通报"));
        assert!(!m("疫情 NOT 演练", "疫情应急演练"));
        assert!(m("-apple", "banana"));
        assert!(!m("NOT apple", "apple"));
        assert!(m("NOT -apple", "apple"));
        assert!(m("--apple", "apple"));
        assert!(!m("-(apple OR banana)", "banana"));
        // A dash inside a term is part of it.
        assert!(m("covid-19", "COVID-19 cases"));
        assert!(!m("covid-19", "covid 19"));
    }

    #[test]
    fn phrases() {
        assert!(m("\"supply chain\"", "Global Supply  Chain woes"));
        assert!(m("\"supply chain\"", "supply\n\tchain"));
        assert!(!m("\"supply chain\"", "chain supply"));
        assert!(!m("\"supply chain\"", "supply-chain"));
        assert!(!m("\"supply chain\"", "supply chains"));
        assert!(!m("\"supply chain\"", "resupply chain"));
        assert!(m("\"new york\"", "in New York, today"));
        // Next to CJK a space in the phrase may match nothing.
        assert!(m("\"卫健委 通报\"", "省卫健委通报"));
        assert!(m("\"卫健委 通报\"", "省卫健委 通报"));
        assert!(!m("\"卫健委 通报\"", "卫健委今日通报"));
        assert!(m("\"卫健委通报\"", "省卫健委通报"));
        // Curly and full-width quotes, and an escaped quote.
        assert!(m("“supply chain”", "supply chain"));
        assert!(m("＂supply chain＂", "supply chain"));
        assert!(m(r#""say \"hi\"""#, r#"they say "hi" again"#));
        // A quoted operator word is a term.
        assert!(m("\"OR\"", "this or that"));
    }

    #[test]
    fn parentheses_group() {
        let query = q("(apple OR banana) (cherry OR date)");
        assert!(query.matches(&title("apple date")));
        assert!(query.matches(&title("banana cherry")));
        assert!(!query.matches(&title("apple banana")));
        assert!(m("((apple))", "apple"));
        // Adjacent to a term with no space.
        assert!(m("apple(banana OR cherry)", "apple cherry"));
    }

    #[test]
    fn precedence() {
        // `a OR b c` is `a OR (b AND c)`.
        let query = q("apple OR banana cherry");
        assert!(query.matches(&title("apple")));
        assert!(!query.matches(&title("banana")));
        assert!(!query.matches(&title("cherry")));
        assert!(query.matches(&title("banana cherry")));
        // NOT binds tighter than AND: `-a b` is `(-a) b`.
        let query = q("-apple banana");
        assert!(query.matches(&title("banana")));
        assert!(!query.matches(&title("apple banana")));
        assert!(!query.matches(&title("cherry")));
        // NOT binds tighter than OR.
        let query = q("NOT apple OR banana");
        assert!(query.matches(&title("apple banana")));
        assert!(query.matches(&title("cherry")));
        assert!(!query.matches(&title("apple")));
    }

    fn doc_fields() -> (Vec<String>, Vec<String>) {
        (
            vec!["Li Wei".to_string(), "张三".to_string()],
            vec!["Health".to_string(), "公共卫生".to_string()],
        )
    }

    #[test]
    fn each_field_scope() {
        let (authors, categories) = doc_fields();
        let doc = Doc {
            title: "卫健委通报疫情",
            content: "The vaccine rollout continues.",
            authors: &authors,
            categories: &categories,
            source: "Example Daily",
        };
        let yes = |expr: &str| q(expr).matches(&doc);
        assert!(yes("title:卫健委"));
        assert!(!yes("content:卫健委"));
        assert!(yes("content:vaccine"));
        assert!(!yes("title:vaccine"));
        assert!(yes("author:wei"));
        assert!(yes("author:\"li wei\""));
        assert!(yes("author:张三"));
        assert!(!yes("author:vaccine"));
        // A phrase does not run from one author into the next.
        assert!(!yes("author:\"wei 张三\""));
        assert!(yes("category:health"));
        assert!(yes("category:卫生"));
        assert!(!yes("category:daily"));
        assert!(yes("source:\"example daily\""));
        assert!(!yes("source:vaccine"));
        // Field names are case-insensitive; full-width colon and brackets work.
        assert!(yes("Title:卫健委"));
        assert!(yes("title：（疾控 OR 疫情）"));
        // Scopes on a group, a regex, and negated.
        assert!(yes("title:(疾控 OR 疫情)"));
        assert!(!yes("title:(疾控 OR vaccine)"));
        assert!(yes("content:/roll\\w+/"));
        assert!(!yes("title:/roll\\w+/"));
        assert!(yes("-title:vaccine"));
        assert!(!yes("-content:vaccine"));
        assert!(yes("title:(-vaccine)"));
        assert!(yes("title:(title:卫健委)"));
    }

    #[test]
    fn unscoped_terms_match_any_field() {
        let (authors, categories) = doc_fields();
        let doc = Doc {
            title: "t",
            content: "vaccine",
            authors: &authors,
            categories: &categories,
            source: "Example Daily",
        };
        for expr in [
            "vaccine",
            "wei",
            "health",
            "daily",
            "卫生",
            "\"example daily\"",
            "/vacc/",
        ] {
            assert!(q(expr).matches(&doc), "{expr}");
        }
        assert!(!q("cherry").matches(&doc));
        // Terms of one AND may match in different fields.
        assert!(q("vaccine daily").matches(&doc));
    }

    #[test]
    fn regexes() {
        assert!(m("/covid-?19/", "COVID19 update"));
        assert!(m("/covid-?19/", "covid-19"));
        assert!(!m("/covid-?19/", "covid 19"));
        assert!(m("/^breaking/", "Breaking: news"));
        assert!(!m("/^breaking/", "Not breaking"));
        // Upper case in the pattern still matches: regexes are case-insensitive.
        assert!(m("/[A-Z]+ News/", "world news"));
        // Traditional characters in the pattern or the text are folded.
        assert!(m("/衛健委.*通報/", "卫健委今日通报"));
        assert!(m("/卫健委.*通报/", "衛健委今日通報"));
        // `\/` is a slash; other escapes reach the regex crate as written.
        assert!(m(r"/a\/b/", "a/b"));
        assert!(m(r"/\d{4}年/", "2024年"));
        assert!(m("/x/ OR y", "y"));
        // Full-width forms are ASCII on both sides: `（` in a pattern is a group, `\(` a bracket.
        assert!(m("/a（b）/", "ab"));
        assert!(m(r"/卫健委\(通报\)/", "卫健委（通报）"));
    }

    #[test]
    fn case_insensitive() {
        assert!(m("APPLE", "apple pie"));
        assert!(m("apple", "APPLE PIE"));
        assert!(m("\"Apple PIE\"", "apple pie"));
        assert!(m("ＡＰＰＬＥ", "apple"));
    }

    #[test]
    fn traditional_and_simplified_match_each_other() {
        assert!(m("衛健委", "陕西省卫健委通报"));
        assert!(m("卫健委", "陝西省衛健委通報"));
        assert!(m("\"衛健委 通報\"", "卫健委通报"));
        assert!(m("title:(衛健委 OR 疫情)", "卫健委通报"));
        // Pinyin annotations in the text are ignored.
        assert!(m("济南", "濟(jì)南市"));
    }

    #[test]
    fn cjk_terms_match_inside_text() {
        assert!(m("卫健委", "陕西省卫健委通报"));
        assert!(m("卫健委", "卫健委"));
        assert!(!m("卫健委", "卫生健康委员会"));
        assert!(m("東京", "在东京举行"));
        assert!(m("서울", "서울시청"));
    }

    #[test]
    fn latin_terms_match_whole_words() {
        assert!(!m("art", "party"));
        assert!(!m("art", "artist"));
        assert!(m("art", "modern art, again"));
        assert!(m("art", "Art"));
        assert!(m("art", "pop-art"));
        assert!(m("art", "art"));
        // CJK characters are word breaks.
        assert!(m("ai", "AI芯片"));
        assert!(m("ai", "发布AI芯片"));
        assert!(!m("ai", "said"));
        // Digits are word characters; punctuation at a term's end has no boundary.
        assert!(!m("19", "2019"));
        assert!(m("c++", "C++11 released"));
        // An occurrence that fails the check may overlap one that passes.
        assert!(m("a.a", "xa.a.a"));
        // Mixed terms check their Latin end only.
        assert!(m("a股", "港A股上涨"));
        assert!(!m("a股", "HA股"));
    }

    #[test]
    fn colons_that_are_not_scopes() {
        assert!(m("10:30", "at 10:30 today"));
        assert!(m("通报:疫情", "通报：疫情"));
        assert!(m("note:", "note: this"));
        assert!(m("std::io", "use std::io;"));
        assert!(m("https://example.com/a", "see https://example.com/a"));
        assert!(m("\"foo:bar\"", "foo:bar"));
    }

    #[test]
    fn empty_expression_is_an_error() {
        assert_eq!(err_at("", "empty expression"), 0);
        assert_eq!(err_at("   ", "empty expression"), 0);
        assert_eq!(err_at("a \"  \"", "empty phrase"), 2);
        assert_eq!(err_at("a ()", "empty parentheses"), 2);
        assert_eq!(err_at("a //", "empty /regex/"), 2);
    }

    #[test]
    fn unbalanced_parentheses_are_errors() {
        assert_eq!(err_at("a (b OR c", "never closed"), 2);
        assert_eq!(err_at("(a (b)", "never closed"), 0);
        assert_eq!(err_at("(", "never closed"), 0);
        assert_eq!(err_at("a b)", "without a matching `(`"), 3);
        assert_eq!(err_at(")", "without a matching `(`"), 0);
        assert_eq!(err_at("(a))", "without a matching `(`"), 3);
    }

    #[test]
    fn dangling_operators_are_errors() {
        assert_eq!(err_at("a OR", "`OR` needs a term after it"), 2);
        assert_eq!(err_at("(a OR) b", "`OR` needs a term after it"), 3);
        assert_eq!(err_at("OR a", "`OR` needs a term before it"), 0);
        assert_eq!(err_at("a OR OR b", "`OR` needs a term after it"), 2);
        assert_eq!(err_at("a (OR b)", "`OR` needs a term before it"), 3);
        assert_eq!(err_at("a NOT", "`NOT` needs a term after it"), 2);
        assert_eq!(err_at("a NOT OR b", "`NOT` needs a term after it"), 2);
        assert_eq!(err_at("NOT NOT", "`NOT` needs a term after it"), 4);
        assert_eq!(err_at("a AND", "`AND` needs a term after it"), 2);
        assert_eq!(err_at("AND a", "`AND` needs a term before it"), 0);
        assert_eq!(err_at("a - b", "`-` needs a term right after it"), 2);
        assert_eq!(err_at("a -", "`-` needs a term right after it"), 2);
        assert_eq!(err_at("(a -)", "`-` needs a term right after it"), 3);
        assert_eq!(err_at("a -OR b", "`-` needs a term right after it"), 2);
    }

    #[test]
    fn field_errors() {
        assert_eq!(err_at("foo:bar", "unknown field `foo:`"), 0);
        assert_eq!(err_at("x titel:疫情", "unknown field `titel:`"), 2);
        assert_eq!(err_at("title: x", "`title:` needs a term"), 0);
        assert_eq!(err_at("a title:", "`title:` needs a term"), 2);
        assert_eq!(err_at("(title:)", "`title:` needs a term"), 1);
        assert_eq!(err_at("title:-x", "must be followed directly by a term"), 0);
        assert_eq!(err_at("a title:OR b", "must be followed directly by a term"), 2);
        assert_eq!(
            err_at("title:content:x", "must be followed directly by a term"),
            0
        );
        assert_eq!(err_at("title:(a content:b)", "`content:` inside `title:`"), 9);
    }

    #[test]
    fn unterminated_quote_and_regex_are_errors() {
        assert_eq!(err_at("a \"b c", "unterminated phrase"), 2);
        assert_eq!(err_at("“b c", "unterminated phrase"), 0);
        assert_eq!(err_at("a /b c", "unterminated /regex/"), 2);
        assert_eq!(err_at(r"/a\/", "unterminated /regex/"), 0);
    }

    #[test]
    fn bad_regexes_are_errors() {
        assert_eq!(err_at("x /a(b/", "invalid /regex/"), 2);
        assert_eq!(err_at("/[z-a]/", "invalid /regex/"), 0);
        assert_eq!(err_at("/abc/i", "flags"), 5);
        let e = err(r"/\w{1000}\w{1000}/");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("too large"), "{e}");
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(err_at("疫情 通报 (", "never closed"), 6);
        assert_eq!(err_at("疫情 foo:x", "unknown field"), 3);
    }

    #[test]
    fn limits() {
        let long = "a ".repeat(MAX_EXPRESSION_CHARS / 2 + 1);
        assert_eq!(err_at(&long, "longer than 4096"), MAX_EXPRESSION_CHARS);
        let fits = format!("{}{}", "卫".repeat(MAX_EXPRESSION_CHARS - 1), " ");
        assert!(Query::parse(&fits).is_ok());

        let deep_ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(m(&deep_ok, "a"));
        let too_deep = format!("{}a{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(err_at(&too_deep, "nested more than 32"), MAX_DEPTH);

        let many_ok = vec!["a"; MAX_TERMS].join(" ");
        assert!(Query::parse(&many_ok).is_ok());
        let too_many = vec!["a"; MAX_TERMS + 1].join(" ");
        assert_eq!(err_at(&too_many, "too many terms"), 2 * MAX_TERMS);

        // Long chains of negation parse without deep recursion.
        let negations = format!("{}a", "-".repeat(MAX_EXPRESSION_CHARS - 1));
        assert!(m(&negations, "b"));
    }
}
