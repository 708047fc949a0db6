//! `explain`: why an item is in its story, or why it stands alone.
//!
//! In: the store, a reference and the folding thresholds. The reference is anything feedfold
//! prints for an item: its link, URL as written or GUID; an entry id of any output or view
//! (`urn:feedfold:out:all:story:st-…`, `…:item:HASH`, the legacy `urn:feedfold:story:…`); or a
//! story id or exact group id (`export`'s `cluster`, `explain`'s own `story`), which names the
//! story's first seen copy. Out: an [`Explanation`]: the item, which of its texts was compared
//! (the feed's, or the article of its page: [`Compared`]), how much of it was page furniture, every
//! other member of its story with the similarity and verdict between the two, and its nearest
//! candidates outside the story (from the index, else the items published closest in time) with
//! why each fell short; None when no item has that reference; or the store's error. The store
//! reads the rows; the comparison and the ranking are here.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::fold::{Candidate, CandidateRow, MAX_CANDIDATES};
use crate::output::{EntryRef, item_group_key, item_hash, parse_entry_id};
use crate::store::{ExplainedRow, PageStatus, ShownRow, Store, StoreError};
use crate::transform::fold::{FoldConfig, Similarity, Verdict, compare};

/// Another item, compared with the one explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// Its source.
    pub source: String,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub url: Option<String>,
    /// Its story.
    pub story: String,
    /// Whether it shares an exact key (canonical URL or permalink GUID) with the item.
    pub exact: bool,
    /// How alike the two are.
    pub similarity: Similarity,
    /// What the folding rules say about the pair.
    pub verdict: Verdict,
}

/// Which text of an item its comparison text was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compared {
    /// The feed's own text: its content, else its summary (no full text for its source, or
    /// none asked for this item).
    Feed,
    /// The article extracted from the item's page (full text).
    Page {
        /// The page.
        url: String,
    },
    /// The feed's own text, because the item's page failed.
    PageFailed {
        /// The page.
        url: String,
        /// Why it failed last.
        error: String,
        /// When it is tried again.
        next_try: Option<DateTime<Utc>>,
    },
}

/// The answer of `explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The item's source.
    pub source: String,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub url: Option<String>,
    /// Its story.
    pub story: String,
    /// Lines of its body before furniture removal.
    pub lines: i64,
    /// Lines removed as furniture.
    pub removed: i64,
    /// Which of its texts was compared: the feed's, or its page's article.
    pub compared: Compared,
    /// The other members of its story.
    pub members: Vec<Neighbour>,
    /// Its nearest candidates outside its story (at most 5), best first.
    pub nearest: Vec<Neighbour>,
}

/// An item's story as shown: its id, or that it waits.
fn story_of(c: &Candidate) -> String {
    c.story
        .clone()
        .unwrap_or_else(|| format!("(waiting for folding; exact group {})", c.exact))
}

/// Explains the folding of the item `reference` names (see the module docs).
pub async fn explain(
    store: &Store,
    reference: &str,
    cfg: &FoldConfig,
) -> Result<Option<Explanation>, StoreError> {
    let Some(ExplainedRow { item, lines, removed }) = find(store, reference.trim()).await? else {
        return Ok(None);
    };
    let ShownRow {
        text,
        source,
        title,
        link,
    } = item;
    let me = CandidateRow::new(text).candidate();
    let compared = match store.page(me.id).await? {
        None => Compared::Feed,
        Some(p) if p.status == PageStatus::Read => Compared::Page { url: p.url },
        Some(p) => Compared::PageFailed {
            url: p.url,
            error: p.error.unwrap_or_default(),
            next_try: p.next_try,
        },
    };
    let neighbour = |row: ShownRow| -> Neighbour {
        let c = CandidateRow::new(row.text).candidate();
        let (similarity, verdict) = compare(&me.features, &c.features, cfg);
        Neighbour {
            source: row.source,
            title: row.title,
            url: row.link,
            story: story_of(&c),
            exact: c.exact == me.exact,
            similarity,
            verdict,
        }
    };
    let my_story = me.story.clone().unwrap_or_default();
    let members: Vec<Neighbour> = store
        .story_rows(&my_story, me.id)
        .await?
        .into_iter()
        .map(neighbour)
        .collect();
    // Its keys as made from its text: the same as those stored, and there even before a
    // folding pass rebuilt stored keys after an upgrade.
    let keys: HashSet<i64> = me.features.keys().iter().copied().collect();
    let mut near_ids: Vec<i64> = Vec::new();
    for (id, story) in sharing(store, &keys).await? {
        if id != me.id && story != me.story {
            near_ids.push(id);
        }
    }
    if near_ids.len() < 5 {
        // Few items share a band key: also look at the items published closest in time, so a
        // lone item still shows what it was measured against.
        for id in store
            .closest_in_time(me.id, &my_story, me.features.published)
            .await?
        {
            if !near_ids.contains(&id) {
                near_ids.push(id);
            }
        }
    }
    let mut nearest = Vec::new();
    for id in near_ids {
        nearest.push(neighbour(store.item_row(id).await?));
    }
    nearest.sort_by(|a, b| b.similarity.score().total_cmp(&a.similarity.score()));
    nearest.truncate(5);
    Ok(Some(Explanation {
        source,
        title,
        url: link,
        story: story_of(&me),
        lines,
        removed,
        compared,
        members,
        nearest,
    }))
}

/// The item `reference` names: an item's link, URL or GUID first, then an entry id, then a story
/// or exact group id.
async fn find(store: &Store, reference: &str) -> Result<Option<ExplainedRow>, StoreError> {
    if let Some(row) = store.explained_item(reference).await? {
        return Ok(Some(row));
    }
    match parse_entry_id(reference) {
        Some(EntryRef::Group(group)) => store.explained_item_in_group(group).await,
        Some(EntryRef::Item(hash)) => {
            let found = store
                .item_sources_and_keys()
                .await?
                .into_iter()
                .find(|(_, source, key)| item_hash(&item_group_key(source, key)) == hash);
            match found {
                Some((id, _, _)) => store.explained_item_by_id(id).await,
                None => Ok(None),
            }
        }
        None => store.explained_item_in_group(reference).await,
    }
}

/// The stored items sharing any of `keys`, most shared first (then lowest id), at most
/// [`MAX_CANDIDATES`], with their stories: the folding pass's candidate lookup, over every
/// stored item.
async fn sharing(store: &Store, keys: &HashSet<i64>) -> Result<Vec<(i64, Option<String>)>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut shared: Vec<(std::cmp::Reverse<usize>, i64)> = store
        .sharing_keys(keys)
        .await?
        .into_iter()
        .map(|(id, count)| (std::cmp::Reverse(count), id))
        .collect();
    shared.sort_unstable();
    shared.truncate(MAX_CANDIDATES);
    let ids: Vec<i64> = shared.into_iter().map(|(_, id)| id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut story = store.stories_of(&ids).await?;
    Ok(ids
        .into_iter()
        .filter_map(|id| story.remove(&id).map(|s| (id, s)))
        .collect())
}
