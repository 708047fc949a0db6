//! Ingesting: a fetch's items worked out into the rows the store writes, once, on the task
//! that fetched them.
//!
//! In: a source's parsed items, what the store holds of them ([`Snapshot`], read with
//! [`snapshot`]), the fetch time, the source's `[[source]] region` and how to sanitise an item's
//! HTML ([`render`]). Out: a [`Prepared`] fetch, whose rows ([`Batch`]) [`write`] hands to the
//! store and whose [`Ready`] features it keeps in a [`ReadyMap`] (by the ids the store wrote)
//! for the next folding pass; the counts of new / updated / unchanged items, or the store's
//! error.
//!
//! Each new or changed item is sanitised, its body converted to text lines once, and from them
//! its comparison text (under the source's furniture), its exact keys, its fold features, band
//! keys (for a changed item that already has a story) and its regions as a story of one copy.
//! That is most of the cost of storing an item, so it runs on every core (one task per source)
//! instead of under the store's single writer. Where what is stored changed between the snapshot
//! and the write, the store has it worked out again through the [`Rework`] this module hands it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use url::Url;

use crate::html;
use crate::model::{Item, Regions};
use crate::store::{
    Batch, Compared, IngestCounts, ItemRow, PageRow, Rendered, Rework, Snapshot, Sorted, Store, StoreError,
    item_hash, item_id, ts,
};
use crate::transform::exact_keys;
use crate::transform::fold::Features;
use crate::transform::normalize::{self, Furniture};
use crate::transform::region::Gazetteer;

/// How items are sanitised, shared with whichever task writes the batch (see [`Rework`]).
pub type Render = Arc<dyn Fn(&Item) -> Rendered + Send + Sync>;

/// Sanitises an item's HTML. Relative URLs resolve against the `xml:base` in effect, else the
/// item's own link (the page the HTML was taken from), else the feed's URL.
pub fn render(item: &Item, feed_base: Option<&Url>) -> Rendered {
    let http = |s: &Option<String>| {
        s.as_deref()
            .and_then(|l| Url::parse(l).ok())
            .filter(html::is_web_url)
    };
    let own = http(&item.base).or_else(|| http(&item.link));
    let base = own.as_ref().or(feed_base);
    Rendered {
        title_html: item.title_html.as_deref().map(|h| html::sanitize(h, base)),
        summary_html: item.summary.as_deref().map(|h| html::sanitize(h, base)),
        content_html: item.content.as_deref().map(|h| html::sanitize(h, base)),
    }
}

/// What the folding pass needs of a new item, worked out when it was stored (on whichever core
/// stored it) instead of in the pass (on one): see [`crate::pipeline::fold::fold_pending`].
/// Valid while the stored item's content hash is `hash`.
#[derive(Debug)]
pub struct Ready {
    pub(crate) hash: i64,
    pub(crate) source: String,
    /// The source's `[[source]] region` it was tagged with.
    pub(crate) prior: Option<usize>,
    /// Its fold features (their `published` is set again from the stored row).
    pub(crate) features: Features,
    /// Its regions as a story of one copy.
    pub(crate) alone: Regions,
}

/// What the folding pass needs of the items this process stored and has not folded yet, by
/// item id: kept by whichever task stored them ([`write`]), taken by the next pass
/// ([`crate::pipeline::fold::fold`]). Cloning it is cheap: clones share the map.
#[derive(Debug, Clone, Default)]
pub struct ReadyMap(Arc<Mutex<HashMap<i64, Ready>>>);

impl ReadyMap {
    /// Keeps what the folding pass needs of items just stored.
    fn keep(&self, ready: impl IntoIterator<Item = (i64, Ready)>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(ready);
    }

    /// Takes everything kept.
    pub fn take(&self) -> HashMap<i64, Ready> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The HTML an item is compared by: its full content, else its summary.
fn body_html(item: &Item) -> Option<&str> {
    item.content.as_deref().or(item.summary.as_deref())
}

/// The time an item is compared by: its publication, else its update, else when it was first
/// seen (as the store reads it back).
fn compared_at(item: &Item, first_seen: DateTime<Utc>) -> DateTime<Utc> {
    item.published.or(item.updated).unwrap_or(first_seen)
}

/// The row of a new or changed item of `source` (content hash `hash`), before it is compared:
/// its sanitised HTML, and its body's text lines (furniture counting and the comparison text
/// both start from them, so the HTML is converted to text once).
fn row(item: &Item, source: &str, hash: i64, render: &(dyn Fn(&Item) -> Rendered + Sync)) -> ItemRow {
    let lines = body_html(item).map(normalize::text_lines).unwrap_or_default();
    ItemRow {
        id: item_id(source, &item.key),
        hash,
        rendered: render(item),
        learnable: normalize::learnable_lines(&lines),
        lines,
        exact_keys: exact_keys(item),
        compared: None,
    }
}

/// The comparison columns of `item` (its row `row`) under `furniture`, with its band keys when
/// `keys`, and what the folding pass needs of it: its fold features (compared at `when`) and its
/// regions as a story of its own (`prior`: its source's `[[source]] region`).
fn compare(
    item: &Item,
    row: &ItemRow,
    furniture: &Furniture,
    source: &str,
    when: DateTime<Utc>,
    prior: Option<usize>,
    keys: bool,
) -> (Compared, Ready) {
    let cmp = normalize::comparison_of_lines(item.title.as_deref(), &row.lines, furniture);
    let features = Features::new(&cmp, when);
    let alone = Regions(Gazetteer::embedded().classify([(cmp.title.as_str(), cmp.body.as_str())], prior));
    let compared = Compared {
        band_keys: keys.then(|| features.band_keys()),
        lines: cmp.lines as i64,
        removed: cmp.removed as i64,
        title: cmp.title,
        body: cmp.body,
    };
    let ready = Ready {
        hash: row.hash,
        source: source.to_string(),
        prior,
        features,
        alone,
    };
    (compared, ready)
}

/// How often each learnable line occurs among `new_items` (one count per item).
fn line_counts<'r>(new_items: impl IntoIterator<Item = &'r ItemRow>) -> Vec<(i64, i64)> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for row in new_items {
        for h in &row.learnable {
            *counts.entry(*h).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// The last copy of each key among `items`, in the order the feed first lists each key.
fn latest_copies(items: Vec<Item>) -> Vec<Item> {
    let mut position: HashMap<String, usize> = HashMap::with_capacity(items.len());
    let mut latest: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        match position.get(item.key.as_str()) {
            Some(&i) => latest[i] = item,
            None => {
                position.insert(item.key.clone(), latest.len());
                latest.push(item);
            }
        }
    }
    latest
}

/// The work done again under the write lock for what changed since a batch's snapshot (the
/// store calls it; see [`Rework`]), and the [`Ready`] features of the items it compared again.
struct Redo {
    source: String,
    /// The fetch time, in whole seconds (as stored).
    seen: DateTime<Utc>,
    prior: Option<usize>,
    render: Render,
    /// By item id; a later attempt of the same write replaces what an earlier one left.
    redone: Mutex<HashMap<i64, Ready>>,
}

impl Redo {
    fn take_redone(&self) -> HashMap<i64, Ready> {
        std::mem::take(&mut *self.redone.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Rework for Redo {
    fn row(&self, item: &Item, hash: i64) -> ItemRow {
        row(item, &self.source, hash, &*self.render)
    }

    fn compare(&self, item: &Item, row: &ItemRow, furniture: &HashSet<i64>, keys: bool) -> Compared {
        let furniture = Furniture::from_counts(furniture.iter().map(|&h| (h, Furniture::MIN_ITEMS)));
        let when = compared_at(item, self.seen);
        let (compared, ready) = compare(item, row, &furniture, &self.source, when, self.prior, keys);
        self.redone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(row.id, ready);
        compared
    }
}

/// A fetch's items worked out against a [`Snapshot`]: the rows the store writes, and what the
/// folding pass needs of the new and changed ones. It owns everything, so it can be built on
/// another thread; [`write`] stores it.
pub struct Prepared {
    batch: Batch,
    /// By item id.
    ready: HashMap<i64, Ready>,
    redo: Arc<Redo>,
}

impl Prepared {
    /// Records `pages` (what became of the pages of the fetch's items, full text) with the
    /// items, in their transaction.
    pub fn with_pages(mut self, pages: Vec<PageRow>) -> Prepared {
        self.batch.pages = pages;
        self
    }
}

/// What the store holds of `items` of `source` now, as [`prepare`] needs it (read without the
/// write lock).
pub async fn snapshot(store: &Store, source: &str, items: &[Item]) -> Result<Snapshot, StoreError> {
    store.snapshot(source, items, Furniture::MIN_ITEMS).await
}

/// Works out `items` of `source` (a fetch at `now`, its `[[source]] region` `prior`) against
/// `snapshot`: pure CPU work, sanitising with `render` only the new and changed items.
pub fn prepare(
    source: &str,
    items: Vec<Item>,
    snapshot: Snapshot,
    now: DateTime<Utc>,
    prior: Option<usize>,
    render: Render,
) -> Prepared {
    let items = latest_copies(items);
    let hashes: Vec<i64> = items.iter().map(item_hash).collect();
    let sorted = Sorted::of(&items, &hashes, &snapshot.stored, &snapshot.pruned);
    let mut rows: HashMap<usize, ItemRow> = sorted
        .new
        .iter()
        .chain(&sorted.changed)
        .map(|&i| (i, row(&items[i], source, hashes[i], &*render)))
        .collect();
    let counts = line_counts(sorted.new.iter().map(|i| &rows[i]));
    // The furniture this batch will leave, as far as can be told without the lock: lines
    // stored as furniture, and lines this batch alone repeats often enough.
    let guess = Furniture::from_counts(
        snapshot
            .furniture
            .iter()
            .map(|&(h, _)| (h, Furniture::MIN_ITEMS))
            .chain(counts.iter().copied()),
    );
    // A changed item that has a story gets its band keys replaced as it is written.
    let folded = |i: usize| {
        snapshot
            .stored
            .get(items[i].key.as_str())
            .is_some_and(|(_, waiting)| !waiting)
    };
    let mut ready = HashMap::with_capacity(rows.len());
    for (&i, row) in rows.iter_mut() {
        let item = &items[i];
        let (compared, r) = compare(
            item,
            row,
            &guess,
            source,
            compared_at(item, now),
            prior,
            folded(i),
        );
        row.compared = Some(compared);
        ready.insert(row.id, r);
    }
    let seen = ts(now);
    Prepared {
        redo: Arc::new(Redo {
            source: source.to_string(),
            seen: crate::store::from_ts(seen),
            prior,
            render,
            redone: Mutex::new(HashMap::new()),
        }),
        batch: Batch {
            source: source.to_string(),
            seen,
            items,
            hashes,
            snapshot,
            sorted,
            rows,
            furniture: guess.lines().collect(),
            furniture_min: Furniture::MIN_ITEMS,
            pages: Vec::new(),
        },
        ready,
    }
}

/// Stores a [`Prepared`] fetch ([`Store::write`]) and keeps in `ready` what the folding pass
/// needs of the items written.
pub async fn write(store: &Store, ready: &ReadyMap, prepared: Prepared) -> Result<IngestCounts, StoreError> {
    let Prepared {
        batch,
        ready: mut worked_out,
        redo,
    } = prepared;
    let written = store.write(batch, Arc::clone(&redo) as Arc<dyn Rework>).await?;
    // An item compared again under the lock has the features of that comparison.
    let mut redone = redo.take_redone();
    ready.keep(written.ids.iter().filter_map(|id| {
        let r = redone.remove(id).or_else(|| worked_out.remove(id))?;
        Some((*id, r))
    }));
    Ok(written.counts)
}

/// Stores one fetch's items for `source` (at `now`) in one transaction: new items are inserted
/// (waiting for the folding pass), changed ones updated in place (keeping their story),
/// unchanged ones left alone. `render` is called only for new and changed items.
///
/// The same as [`snapshot`], [`prepare`] and [`write`] in turn, for a source with no
/// `[[source]] region`.
pub async fn items(
    store: &Store,
    ready: &ReadyMap,
    source: &str,
    items: &[Item],
    now: DateTime<Utc>,
    render: Render,
) -> Result<IngestCounts, StoreError> {
    let snapshot = snapshot(store, source, items).await?;
    let prepared = prepare(source, items.to_vec(), snapshot, now, None, render);
    write(store, ready, prepared).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn item(key: &str, body: &str) -> Item {
        Item {
            key: key.to_string(),
            guid: Some(key.to_string()),
            title: Some(format!("title {key}")),
            content: Some(format!("<p>{body}</p>")),
            ..Item::default()
        }
    }

    fn plain() -> Render {
        Arc::new(|i: &Item| render(i, None))
    }

    /// What the folding pass needs is kept by the ids the store wrote, under the stored hash;
    /// a batch prepared before another write of the same items is worked out again, and keeps
    /// only the items it wrote.
    #[tokio::test]
    async fn ready_features_are_kept_by_the_ids_written() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(&url).await.expect("open");
        let now = Utc.timestamp_opt(1_641_000_000, 0).single().expect("now");
        let ready = ReadyMap::default();
        let first = [item("a1", "one"), item("a2", "two")];
        let counts = items(&store, &ready, "a", &first, now, plain())
            .await
            .expect("ingest");
        assert_eq!((counts.new, counts.updated), (2, 0));
        let kept = ready.take();
        assert_eq!(kept.len(), 2);
        for i in &first {
            let r = &kept[&item_id("a", &i.key)];
            assert_eq!(r.hash, item_hash(i));
            assert_eq!(r.source, "a");
        }

        // Prepared against a snapshot that a write of a changed a1 then makes stale.
        let second = [item("a1", "one, changed"), item("a3", "three")];
        let snap = snapshot(&store, "a", &second).await.expect("snapshot");
        let prepared = prepare("a", second.to_vec(), snap, now, None, plain());
        items(&store, &ready, "a", &second[..1], now, plain())
            .await
            .expect("ingest");
        ready.take();
        let counts = write(&store, &ready, prepared).await.expect("write");
        assert_eq!((counts.new, counts.updated, counts.unchanged), (1, 0, 1));
        let kept = ready.take();
        assert_eq!(kept.keys().copied().collect::<Vec<_>>(), [item_id("a", "a3")]);
        store.close().await;
    }
}
