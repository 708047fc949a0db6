//! JSON Feed 1.1 rendering (own serde structs; the format is small).
//!
//! In: feed metadata and entries. Out: a JSON Feed 1.1 document with the feed's `authors`.
//! Every item has the entry id, its plain-text `title`, `content_html` (the content, else the
//! summary, as HTML, ending with the "Also reported by" paragraph), a plain-text `summary` (only beside full content),
//! `authors` (name, and as `url` the home page, else a `mailto:` link to the email), `tags`,
//! `language`, `image` and every enclosure as an `attachment`. What JSON Feed has no field for
//! is in the `_feedfold` extension object: the story id, every member copy (source, url,
//! title), the story's regions, and when the copy shown has them the authors with their email,
//! contributors, categories with scheme and label, rights, license, publisher, source feed,
//! comments page, feed and count, other links, geo point, thumbnails and iTunes fields.

use serde::Serialize;

use super::{Entry, FeedMeta, Format, also_reported_html, email, language_tag, other_links, web_url};
use crate::html;
use crate::model::{Category, GeoPoint, Itunes, OutputRegions, Person, Thumbnail};

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    authors: [Author; 1],
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Author {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct MemberOut<'a> {
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

/// A person with every detail (`_feedfold`).
#[derive(Serialize)]
struct PersonOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

impl<'a> PersonOut<'a> {
    /// Everyone of `people` known by something.
    fn list(people: &'a [Person]) -> Vec<PersonOut<'a>> {
        people
            .iter()
            .filter(|p| !p.display().trim().is_empty())
            .map(|p| PersonOut {
                name: p.display().trim(),
                email: p.email.as_deref().and_then(email),
                url: p.uri.as_deref().and_then(web_url).map(Into::into),
            })
            .collect()
    }
}

#[derive(Serialize)]
struct SourceOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

#[derive(Serialize)]
struct LinkOut<'a> {
    url: String,
    rel: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hreflang: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Extension<'a> {
    story: &'a str,
    members: Vec<MemberOut<'a>>,
    regions: OutputRegions<'a>,
    /// The authors with every detail, when one has an email (`authors` has no place for it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<PersonOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contributors: Vec<PersonOut<'a>>,
    /// The categories with their scheme and label, when one has either.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<&'a Category>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rights: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<SourceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments_feed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment_count: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<LinkOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geo: Option<GeoPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    thumbnails: Vec<Thumbnail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    itunes: Option<Itunes>,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    content_html: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
    #[serde(rename = "_feedfold")]
    feedfold: Extension<'a>,
}

/// Renders a JSON Feed 1.1 document.
pub fn render(meta: &FeedMeta, entries: &[Entry]) -> Result<Vec<u8>, serde_json::Error> {
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: &meta.title,
        home_page_url: meta.home.as_str(),
        feed_url: meta.self_url(Format::JsonFeed),
        description: meta.description.as_deref(),
        authors: [Author {
            name: meta.author.clone(),
            url: None,
        }],
        items: entries.iter().map(item).collect(),
    };
    let mut out = serde_json::to_vec_pretty(&feed)?;
    out.push(b'\n');
    Ok(out)
}

/// A JSON Feed author: the name (else email, else home page) and, as `url`, the home page,
/// else a `mailto:` link to the email.
fn author(p: &Person) -> Option<Author> {
    let name = p.display().trim();
    if name.is_empty() {
        return None;
    }
    let url = match p.uri.as_deref().and_then(web_url) {
        Some(uri) => Some(uri.into_owned()),
        None => p.email.as_deref().and_then(email).map(|m| format!("mailto:{m}")),
    };
    Some(Author {
        name: name.to_string(),
        url,
    })
}

fn item(e: &Entry) -> Item<'_> {
    let x = &e.extras;
    // JSON Feed's `summary` is plain text: it is written only beside full content. An entry
    // with a summary alone has it, as HTML, in `content_html`, so no markup is lost.
    let summary = e
        .summary_html
        .as_deref()
        .filter(|_| e.content_html.is_some())
        .map(|s| html::one_line(&html::to_text(s)))
        .filter(|s| !s.is_empty());
    let mut members = vec![MemberOut {
        source: &e.source,
        url: e.link.as_deref(),
        title: Some(&e.title),
    }];
    members.extend(e.others.iter().map(|o| MemberOut {
        source: &o.source,
        url: o.url.as_deref(),
        title: o.title.as_deref(),
    }));
    let body = e
        .content_html
        .as_deref()
        .or(e.summary_html.as_deref())
        .unwrap_or("");
    let image = [
        x.image.as_deref(),
        x.itunes.image.as_deref(),
        x.thumbnails.first().map(|t| t.url.as_str()),
    ]
    .into_iter()
    .flatten()
    .find_map(web_url)
    .map(Into::into);
    let detailed = e
        .authors
        .iter()
        .any(|p| p.email.as_deref().and_then(email).is_some());
    let source = x.source.as_ref().map(|s| SourceOut {
        title: s.title.as_deref(),
        home_page_url: s.link.as_deref().and_then(web_url).map(Into::into),
        feed_url: s.feed_url.as_deref().and_then(web_url).map(Into::into),
        id: s.id.as_deref(),
    });
    Item {
        id: &e.id,
        url: e.link.as_deref(),
        title: &e.title,
        content_html: format!("{body}{}", also_reported_html(&e.others)),
        summary,
        image,
        date_published: e.published.to_rfc3339(),
        date_modified: e.updated.to_rfc3339(),
        authors: e.authors.iter().filter_map(author).collect(),
        tags: e.categories.iter().map(|c| c.display()).collect(),
        language: e.language.as_deref().and_then(language_tag),
        attachments: e
            .enclosures
            .iter()
            .map(|x| Attachment {
                url: &x.url,
                mime_type: x.mime.as_deref().unwrap_or("application/octet-stream"),
                size_in_bytes: x.length,
            })
            .collect(),
        feedfold: Extension {
            story: &e.story,
            members,
            regions: e.regions.output(),
            authors: if detailed {
                PersonOut::list(&e.authors)
            } else {
                Vec::new()
            },
            contributors: PersonOut::list(&x.contributors),
            categories: if e
                .categories
                .iter()
                .any(|c| c.scheme.is_some() || c.label.is_some())
            {
                e.categories.iter().collect()
            } else {
                Vec::new()
            },
            rights: x.rights.as_deref(),
            license: x.license.as_deref().and_then(web_url).map(Into::into),
            publisher: x.publisher.as_deref(),
            source,
            comments: x.comments.as_deref().and_then(web_url).map(Into::into),
            comments_feed: x.comments_feed.as_deref().and_then(web_url).map(Into::into),
            comment_count: x.comment_count,
            links: other_links(e)
                .map(|(l, href)| LinkOut {
                    url: href.into_owned(),
                    rel: &l.rel,
                    mime_type: l.mime.as_deref(),
                    title: l.title.as_deref(),
                    hreflang: l.hreflang.as_deref().and_then(language_tag),
                    size_in_bytes: l.length,
                })
                .collect(),
            geo: x.geo,
            thumbnails: x
                .thumbnails
                .iter()
                .filter_map(|t| {
                    let url = web_url(&t.url)?.into_owned();
                    Some(Thumbnail { url, ..t.clone() })
                })
                .collect(),
            itunes: (!x.itunes.is_empty()).then(|| {
                let mut it = x.itunes.clone();
                it.image = it.image.as_deref().and_then(web_url).map(Into::into);
                it
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{full_entry, meta};
    use serde_json::json;

    #[test]
    fn every_field_reads_back() {
        let e = full_entry();
        let bytes = render(&meta(), std::slice::from_ref(&e)).expect("renders");
        let feed: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(feed["authors"], json!([{"name": "The Desk"}]));
        let item = &feed["items"][0];
        assert_eq!(item["id"], json!(e.id));
        assert_eq!(item["title"], "Bold move & more", "plain text");
        assert_eq!(
            item["authors"],
            json!([
                {"name": "Ann Author", "url": "https://ann.e.example/"},
                {"name": "bob@e.example", "url": "mailto:bob@e.example"}
            ])
        );
        assert_eq!(item["tags"], json!(["The Web"]));
        assert_eq!(item["language"], "fr-CA");
        assert_eq!(item["image"], "https://e.example/image.jpg");
        assert_eq!(item["summary"], "summary");
        let content = item["content_html"].as_str().expect("content");
        assert!(
            content.starts_with("<p>content</p><p>Also reported by: "),
            "{content}"
        );
        assert_eq!(
            item["attachments"],
            json!([
                {"url": "https://e.example/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1000},
                {"url": "https://e.example/a.ogg", "mime_type": "audio/ogg"}
            ])
        );
        let x = &item["_feedfold"];
        assert_eq!(x["story"], "x");
        assert_eq!(x["members"][1]["url"], "https://other.example/a");
        assert_eq!(x["authors"][0]["email"], "ann@e.example");
        assert_eq!(
            x["authors"].as_array().map(Vec::len),
            Some(2),
            "nobody is left out"
        );
        assert_eq!(
            x["contributors"],
            json!([{"name": "Carl", "url": "https://carl.e.example/"}])
        );
        assert_eq!(
            x["categories"],
            json!([{"term": "web", "scheme": "https://e.example/cats", "label": "The Web"}])
        );
        assert_eq!(x["rights"], "© 2023 E");
        assert_eq!(x["license"], "https://creativecommons.org/licenses/by/4.0/");
        assert_eq!(x["publisher"], "E Press");
        assert_eq!(
            x["source"],
            json!({
                "title": "Origin Radio",
                "home_page_url": "https://origin.example/",
                "feed_url": "https://origin.example/feed.xml",
                "id": "urn:origin"
            })
        );
        assert_eq!(x["comments"], "https://e.example/a#comments");
        assert_eq!(x["comments_feed"], "https://e.example/a/comments.xml");
        assert_eq!(x["comment_count"], 4);
        assert_eq!(
            x["links"],
            json!([{"url": "https://via.example/", "rel": "via", "mime_type": "text/html",
                    "title": "Via", "hreflang": "en-GB", "size_in_bytes": 42}])
        );
        assert_eq!(x["geo"], json!({"lat": 34.2583, "lon": 108.9286}));
        assert_eq!(x["thumbnails"][0]["url"], "https://e.example/thumb.jpg");
        assert_eq!(x["itunes"]["duration"], "00:42:10");
        assert_eq!(x["itunes"]["explicit"], false);
        assert_eq!(x["itunes"]["block"], true);
        assert_eq!(x["itunes"]["keywords"], json!(["history", "night"]));
    }
}
