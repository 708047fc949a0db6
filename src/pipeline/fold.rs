//! The folding pass: gives every item waiting in the store its story, then tags the regions of
//! every story that changed.
//!
//! In: the store (items stored with no story yet: a fetch's new items; the band keys of stored
//! items, one row per item; the pairs judged before), the folding thresholds, the sources'
//! `[[source]] region` priors, and the features this process worked out as it stored items
//! (the [`ReadyMap`] of what it stored since the last pass, taken). Out: a story id on every waiting item (and on stored items whose
//! story changed), the new pairs, the waiting items' band keys, regions on every story that
//! changed, raised change counters of their sources, and a [`FoldReport`]; or the store's
//! error. The pass runs in one transaction of the store ([`FoldTx`]): the store reads and
//! writes the rows, this module decides.
//!
//! 1. **Judge.** The waiting items' band keys and the stored keys of the items close enough in
//!    time to fold with them ([`HORIZON_SECS`]) make an inverted index in memory ([`Postings`]:
//!    band key → items), so each waiting item's candidates are found without a query per key:
//!    the items sharing the most band keys with it, waiting or stored, at most
//!    [`MAX_CANDIDATES`]. Each pair is judged once, the lower item id first; pairs judged the
//!    same story are stored in `item_pairs`, with links between the items of one exact group.
//! 2. **Regroup.** Everything tied to a waiting item through same-story and link pairs,
//!    transitively, is grouped again from every pair among it (each pair not judged through
//!    candidates is judged now, so a conflict between two items tied through a third is always
//!    known): [`cluster`] takes same-story pairs best first (ties by item id) and never puts a
//!    conflicting pair in one group. So the stories are a function of the stored items: any
//!    arrival order, any split into fetches, any number of processes give the same groups (as
//!    long as no item has more than [`MAX_CANDIDATES`] candidates).
//! 3. **Name.** A stored story keeps its id with the group that holds its first member (first
//!    seen, then lowest id). When a new item shows two stored stories are one, the group keeps
//!    the id of the story whose first member is older, and the other story's copies move to it
//!    (a reader sees that entry gain "also reported by" copies, and the other entry go). When a
//!    new item shows a stored story was two (its copies now conflict through it), the part
//!    without the first member becomes a story of its own. A group with no stored story takes
//!    the exact-group id of its first member, unless another story has it.
//! 4. **Regions.** Every story that gained or lost copies is tagged again from the comparison
//!    text of all its copies (oldest first) with the [`Gazetteer`] and the first source prior
//!    among them; a story of one new copy takes the regions worked out when it was stored.
//!
//! The waiting items' keys are written in the transaction that gives them their stories, so an
//! item has band keys exactly when it has a story.
//!
//! [`fold`] is the one call of the pass for `fetch` (after every source of a cycle is stored)
//! and for the daemon (at start, for what a killed run left waiting, and after each burst of
//! changes); [`fold_logged`] is the daemon's form, which logs a failure and lets the next change
//! try again.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::model::Regions;
use crate::pipeline::ingest::{Ready, ReadyMap};
use crate::store::{CopyRow, FoldTx, MemberRow, Pair, PairKind, Store, StoreError, TextRow, par_map};
use crate::transform::fold::{
    Features, FoldConfig, Postings, Similarity, Verdict, cluster, index_keys, judge, judge_all,
};
use crate::transform::normalize::Comparison;
use crate::transform::region::Gazetteer;

/// What a folding pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldReport {
    /// Items that were waiting.
    pub items: usize,
    /// Of those, items that joined a story already stored.
    pub joined: usize,
    /// New stories created.
    pub stories: usize,
}

/// Stored items compared more than this long before the earliest waiting item, or after the
/// latest, are not candidates (their keys are not read). Ten times the default `window`: beyond
/// the window only a near-verbatim republication folds, so what the bound gives up is a
/// republication more than 30 days after its original (and a conflict with such a copy). It
/// keeps a pass's work proportional to the recent part of the store, which never shrinks.
const HORIZON_SECS: i64 = 30 * 24 * 3600;

/// Most candidates compared per item (those sharing the most band keys).
pub const MAX_CANDIDATES: usize = 64;

/// Folds every item waiting in the store, with the config's `[fold]` settings and region
/// priors, and the features `ready` holds of the items this process stored (see
/// [`fold_pending`]).
pub async fn fold(store: &Store, cfg: &Config, ready: &ReadyMap) -> Result<FoldReport, StoreError> {
    fold_pending(store, &cfg.fold, &cfg.region_priors(), ready).await
}

/// [`fold`], logging what it did (`what` names the items, in the log line) or why it failed:
/// a daemon keeps running and folds again after the next change.
pub async fn fold_logged(store: &Store, cfg: &Config, ready: &ReadyMap, what: &str) -> Option<FoldReport> {
    match fold(store, cfg, ready).await {
        Ok(report) => {
            if report.items > 0 {
                tracing::info!(
                    items = report.items,
                    joined = report.joined,
                    stories = report.stories,
                    "folded {what}"
                );
            }
            Some(report)
        }
        Err(e) => {
            tracing::error!(error = %crate::run::error_chain(&e), "folding failed; will retry after the next change");
            None
        }
    }
}

/// Folds every item still waiting for a story (see the module documentation), then tags the
/// regions of every story that changed; `priors` maps a source name to its `[[source]] region`
/// unit. The features of items this process stored were worked out as they were stored, on
/// every core (see [`Ready`]): they are taken once the pass holds the store's locks, so every
/// write committed before it hands them over.
pub async fn fold_pending(
    store: &Store,
    cfg: &FoldConfig,
    priors: &HashMap<String, usize>,
    ready: &ReadyMap,
) -> Result<FoldReport, StoreError> {
    let tx = store.begin_fold().await?;
    let ready = ready.take();
    fold_in(tx, cfg, priors, ready).await
}

/// A stored item as the folding pass sees it.
pub(crate) struct Candidate {
    pub(crate) id: i64,
    /// None while the item waits for the folding pass.
    pub(crate) story: Option<String>,
    pub(crate) exact: String,
    pub(crate) features: Features,
}

/// A stored item as read, before its [`Features`] are computed.
pub(crate) struct CandidateRow {
    id: i64,
    story: Option<String>,
    exact: String,
    /// Its comparison text (title and body).
    cmp: Comparison,
    /// The time it is compared by: its publication, else its update, else when it was first
    /// seen.
    when: DateTime<Utc>,
}

impl CandidateRow {
    /// The row's text and times, moved (not copied) into a comparison.
    pub(crate) fn new(row: TextRow) -> CandidateRow {
        // An Atom entry may carry only `<updated>`: that is its date, not when we first saw it
        // (a copy fetched days later would otherwise be days apart from its original).
        let published = row.published.or(row.updated);
        CandidateRow {
            id: row.id,
            story: row.story,
            exact: row.exact,
            cmp: Comparison {
                title: row.title,
                body: row.body,
                lines: 0,
                removed: 0,
            },
            when: crate::store::from_ts(published.unwrap_or(row.first_seen)),
        }
    }

    /// The item as the folding pass sees it.
    pub(crate) fn candidate(&self) -> Candidate {
        self.with(Features::new(&self.cmp, self.when))
    }

    /// The item as a stored candidate is compared: without its band keys, which the store
    /// keeps in `item_keys`.
    pub(crate) fn compared(&self) -> Candidate {
        self.with(Features::compared(&self.cmp, self.when))
    }

    fn with(&self, features: Features) -> Candidate {
        Candidate {
            id: self.id,
            story: self.story.clone(),
            exact: self.exact.clone(),
            features,
        }
    }
}

/// The [`Candidate`]s of stored items as compared with, worked out on every core.
fn compared(rows: Vec<TextRow>) -> Vec<Candidate> {
    let rows: Vec<CandidateRow> = rows.into_iter().map(CandidateRow::new).collect();
    par_map(&rows, CandidateRow::compared)
}

/// Rebuilds the band keys the store holds none for (a store from before `item_keys` had its
/// own keys, or one whose way of making keys changed), from their stored comparison text, on
/// every core, before anything reads them: the first pass after such an upgrade does it once,
/// in its own transaction, and every later pass finds nothing to do (one indexed read).
async fn rekey(tx: &mut FoldTx<'_>) -> Result<(), StoreError> {
    let stale = tx.stale_keys().await?;
    if !stale.is_empty() {
        let rows: Vec<CandidateRow> = stale.into_iter().map(CandidateRow::new).collect();
        let keys: Vec<(i64, i64, Vec<i64>)> = par_map(&rows, |row| {
            let features = Features::new(&row.cmp, row.when);
            (row.id, features.published, features.band_keys())
        });
        drop(rows);
        let written: Vec<(i64, i64, &[i64])> =
            keys.iter().map(|(id, at, k)| (*id, *at, k.as_slice())).collect();
        tx.write_keys(&written).await?;
        tracing::info!(
            items = keys.len(),
            "band keys rebuilt from the stored comparison text"
        );
    }
    tx.drop_stale_keys().await
}

/// The pass of [`fold_pending`] in `tx`, with `ready` the features worked out as items were
/// stored (by item id; an entry is used while the stored item's content hash is its own).
pub(crate) async fn fold_in(
    mut tx: FoldTx<'_>,
    cfg: &FoldConfig,
    priors: &HashMap<String, usize>,
    mut ready: HashMap<i64, Ready>,
) -> Result<FoldReport, StoreError> {
    let started = Instant::now();
    rekey(&mut tx).await?;
    // Only the features of items stored by another process, or before a restart, are computed
    // here, from their stored comparison text.
    let mut first_seen: HashMap<i64, i64> = HashMap::new();
    let mut alone: HashMap<i64, Alone> = HashMap::new();
    let mut pending: Vec<Option<Candidate>> = Vec::new();
    let mut cold: HashMap<i64, usize> = HashMap::new();
    for row in tx.waiting().await? {
        let published = row.published.or(row.updated);
        first_seen.insert(row.id, row.first_seen);
        match ready.remove(&row.id).filter(|r| r.hash == row.content_hash) {
            Some(r) => {
                let mut features = r.features;
                features.published = published.unwrap_or(row.first_seen);
                alone.insert(
                    row.id,
                    Alone {
                        source: r.source,
                        prior: r.prior,
                        regions: r.alone,
                    },
                );
                pending.push(Some(Candidate {
                    id: row.id,
                    story: row.story,
                    exact: row.exact,
                    features,
                }));
            }
            None => {
                cold.insert(row.id, pending.len());
                pending.push(None);
            }
        }
    }
    drop(ready);
    if !cold.is_empty() {
        // One row at a time, its comparison text dropped once its features are computed:
        // the pass never holds every item's text beside every item's features.
        let ids: Vec<i64> = cold.keys().copied().collect();
        tx.each_text(&ids, |row| {
            let c = CandidateRow::new(row).candidate();
            if let Some(&at) = cold.get(&c.id) {
                pending[at] = Some(c);
            }
        })
        .await?;
        tracing::debug!(items = cold.len(), elapsed = ?started.elapsed(), "features computed");
    }
    // An item whose body row is gone reads as nothing, as the store's join does.
    let pending: Vec<Candidate> = pending.into_iter().flatten().collect();
    if pending.is_empty() {
        // Keeps any keys rebuilt above.
        tx.commit().await?;
        return Ok(FoldReport::default());
    }
    let n = pending.len();

    // 1. Judge every waiting item against its candidates, and tie it to the items of its
    // exact group; keep what was found as rows.
    let found = candidates_of(&mut tx, &pending).await?;
    tracing::debug!(stored = found.stored.len(), elapsed = ?started.elapsed(), "candidates found");
    let node = |k: usize| -> &Candidate {
        match k.checked_sub(n) {
            None => &pending[k],
            Some(s) => &found.stored[s],
        }
    };
    // Each pair once: a pair of waiting items by the one with the lower id, unless only the
    // other lists it; the lower id first.
    let positions: Vec<usize> = (0..n).collect();
    let judged: Vec<Vec<Pair>> = par_map(&positions, |&i| {
        let p = &pending[i];
        let mut out = Vec::new();
        for &k in &found.ranked[i] {
            let c = node(k as usize);
            let waiting = (k as usize) < n;
            if c.id == p.id || (waiting && c.id < p.id && found.ranked[k as usize].contains(&(i as u32))) {
                continue;
            }
            let (a, b) = if p.id < c.id { (p, c) } else { (c, p) };
            out.extend(judged_pair(a.id, b.id, judge(&a.features, &b.features, cfg)));
        }
        out
    });
    let mut pairs: Vec<Pair> = exact_links(&mut tx, &pending).await?;
    pairs.extend(judged.into_iter().flatten());
    // A pair once: a link (listed first) before a verdict.
    pairs.sort_by_key(|p| (p.a, p.b));
    pairs.dedup_by_key(|p| (p.a, p.b));
    // Only what ties items together is kept: a conflict is judged again whenever its items
    // end up tied through others (below), and most conflicts are between items that never
    // are (30,000 unrelated items gave 136,000 of them).
    let ties: Vec<Pair> = pairs.iter().filter(|p| p.ties()).copied().collect();
    tx.write_pairs(&ties).await?;
    drop(ties);
    tracing::debug!(pairs = pairs.len(), elapsed = ?started.elapsed(), "candidates compared");

    // 2. The items tied to the waiting ones, directly or through others: their stories are
    // worked out again, together, from every pair among them, each judged (pairs no
    // candidate lookup brought are judged now: a conflict between two items tied through a
    // third is known whichever of them came first).
    let seeds: Vec<i64> = pending.iter().map(|p| p.id).collect();
    let (nodes, mut pairs) = component(&mut tx, &seeds, pairs).await?;
    let missing = unjudged(&nodes, &pairs);
    if !missing.is_empty() {
        let mut features: HashMap<i64, &Candidate> = pending.iter().map(|p| (p.id, p)).collect();
        features.extend(found.stored.iter().map(|c| (c.id, c)));
        let mut wanted: Vec<i64> = missing
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .filter(|id| !features.contains_key(id))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let read = compared(tx.texts(&wanted).await?);
        features.extend(read.iter().map(|c| (c.id, c)));
        let judged: Vec<Option<Pair>> = par_map(&missing, |&(a, b)| {
            let (fa, fb) = (features.get(&a)?, features.get(&b)?);
            judged_pair(a, b, judge_all(&fa.features, &fb.features, cfg))
        });
        pairs.extend(judged.into_iter().flatten());
        tracing::debug!(judged = missing.len(), elapsed = ?started.elapsed(), "pairs inside components judged");
    }
    drop(found);
    let members = members_of(&mut tx, &nodes, &pending, &first_seen).await?;
    let index: HashMap<i64, usize> = nodes.iter().enumerate().map(|(k, id)| (*id, k)).collect();
    let (mut links, mut edges, mut conflicts) = (Vec::new(), Vec::new(), HashSet::new());
    for p in &pairs {
        let (Some(&a), Some(&b)) = (index.get(&p.a), index.get(&p.b)) else {
            continue;
        };
        match p.kind {
            PairKind::Link => links.push((a, b)),
            PairKind::Same => edges.push((a, b, p.score)),
            PairKind::Conflict => {
                conflicts.insert((a.min(b), a.max(b)));
            }
        }
    }
    // Nodes are numbered by item id, so ties between equal scores break the same way
    // whatever order the items arrived in.
    let groups = cluster(nodes.len(), nodes.len(), &links, &edges, &conflicts);
    let assigned = assign_stories(&mut tx, &members, &groups).await?;

    // 3. Store what changed: stories, the waiting items' keys, regions, change counters.
    let mut report = FoldReport {
        items: n,
        ..FoldReport::default()
    };
    let old: HashSet<&str> = members.iter().filter_map(|m| m.story.as_deref()).collect();
    let mut counted: HashSet<&str> = HashSet::new();
    for (k, m) in members.iter().enumerate() {
        if m.story.is_none() {
            if old.contains(assigned[k].as_str()) {
                report.joined += 1;
            } else if counted.insert(assigned[k].as_str()) {
                report.stories += 1;
            }
        }
    }
    let changed: Vec<(i64, &str)> = members
        .iter()
        .zip(&assigned)
        .filter(|(m, s)| m.story.as_deref() != Some(s.as_str()))
        .map(|(m, s)| (m.id, s.as_str()))
        .collect();
    let moved = changed.len() - members.iter().filter(|m| m.story.is_none()).count();
    if moved > 0 {
        tracing::info!(
            items = moved,
            "stored items moved to another story (stories merged or split)"
        );
    }
    // Stories that gained or lost copies; every copy of one is in the component.
    let mut affected: HashSet<&str> = changed.iter().map(|(_, s)| *s).collect();
    affected.extend(
        members
            .iter()
            .zip(&assigned)
            .filter(|(m, s)| m.story.as_deref().is_some_and(|old| old != s.as_str()))
            .filter_map(|(m, _)| m.story.as_deref()),
    );
    let copies: Vec<(i64, &str)> = members
        .iter()
        .zip(&assigned)
        .filter(|(_, s)| affected.contains(s.as_str()))
        .map(|(m, s)| (m.id, s.as_str()))
        .collect();
    let keys: Vec<(i64, i64, &[i64])> = pending
        .iter()
        .map(|p| (p.id, p.features.published, p.features.keys()))
        .collect();
    tx.write_keys(&keys).await?;
    drop(keys);
    drop(pending);
    let (regions, sources) = story_regions(&mut tx, &copies, priors, &alone).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "regions computed");
    tx.set_stories(&copies, &regions).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "stories stored");
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    tx.bump_generations(&sources).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "regions tagged");
    tx.commit().await?;
    tracing::debug!(elapsed = ?started.elapsed(), "fold committed");
    Ok(report)
}

/// The pair of items `x` and `y` as judged, or None when judged apart (such pairs need no
/// keeping: most candidates are).
fn judged_pair(x: i64, y: i64, (sim, verdict): (Similarity, Verdict)) -> Option<Pair> {
    let kind = match verdict {
        Verdict::Same(_) => PairKind::Same,
        Verdict::Conflict(_) => PairKind::Conflict,
        Verdict::Apart(_) => return None,
    };
    Some(Pair::new(x, y, kind, sim.score()))
}

/// The candidates of the waiting items.
struct Found {
    /// Per waiting item, in order: its candidates as nodes (a waiting item's position, or the
    /// number of waiting items plus a position in `stored`), most shared band keys first (then
    /// lowest id), at most [`MAX_CANDIDATES`]. An item is its own first candidate, as it shares
    /// all its keys with itself.
    ranked: Vec<Vec<u32>>,
    /// The stored items among the candidates.
    stored: Vec<Candidate>,
}

thread_local! {
    /// Per-thread counters for [`Postings::ranked`].
    static COUNTS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// For each waiting item, the items sharing any of its query keys (waiting, or stored and
/// compared within [`HORIZON_SECS`] of the waiting items), most shared keys first, at most
/// [`MAX_CANDIDATES`]: what one lookup per item in a table of `(band key, item)` rows gives.
async fn candidates_of(tx: &mut FoldTx<'_>, pending: &[Candidate]) -> Result<Found, StoreError> {
    let n = pending.len();
    // Looked up so that two items find each other whichever of them waits (a title-only item
    // finds a full copy through its title, and the full copy finds it too): which of two items
    // arrived first must not decide whether they are compared.
    let lookups: Vec<Vec<i64>> = pending.iter().map(|p| p.features.lookup_keys()).collect();
    let queried = lookups.iter().map(Vec::len).sum();
    let mut postings = Postings::for_keys(lookups.iter().flatten(), queried);
    let mut ids: Vec<i64> = Vec::with_capacity(n);
    for (i, p) in pending.iter().enumerate() {
        postings.add(i as u32, index_keys(p.features.keys()));
        ids.push(p.id);
    }
    let lo = pending.iter().map(|p| p.features.published).min().unwrap_or(0);
    let hi = pending.iter().map(|p| p.features.published).max().unwrap_or(0);
    tx.each_stored_keys(
        lo.saturating_sub(HORIZON_SECS),
        hi.saturating_add(HORIZON_SECS),
        |id, keys| {
            if postings.add(ids.len() as u32, index_keys(keys)) {
                ids.push(id);
            }
        },
    )
    .await?;
    postings.finish();
    let positions: Vec<usize> = (0..n).collect();
    let nodes = ids.len();
    let ranked: Vec<Vec<u32>> = par_map(&positions, |&i| {
        COUNTS.with(|count| {
            let mut count = count.borrow_mut();
            if count.len() < nodes {
                count.resize(nodes, 0);
            }
            let mut query = lookups[i].clone();
            query.sort_unstable();
            query.dedup();
            postings.ranked(&query, &ids, &mut count, MAX_CANDIDATES)
        })
    });
    drop(postings);
    // Read the stored candidates, and renumber them by their place in `stored`.
    let mut wanted: Vec<usize> = ranked
        .iter()
        .flatten()
        .map(|&node| node as usize)
        .filter(|&node| node >= n)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let wanted: Vec<i64> = wanted.into_iter().map(|node| ids[node]).collect();
    let stored = compared(tx.texts(&wanted).await?);
    let place: HashMap<i64, usize> = stored.iter().enumerate().map(|(k, c)| (c.id, n + k)).collect();
    let ranked = ranked
        .into_iter()
        .map(|list| {
            list.into_iter()
                .filter_map(|node| {
                    let node = node as usize;
                    if node < n {
                        Some(node as u32)
                    } else {
                        place.get(&ids[node]).map(|&p| p as u32)
                    }
                })
                .collect()
        })
        .collect();
    Ok(Found { ranked, stored })
}

/// Links tying each waiting item to the other items of its exact group: the other waiting ones,
/// and the first stored one (stored members are tied among themselves already).
async fn exact_links(tx: &mut FoldTx<'_>, pending: &[Candidate]) -> Result<Vec<Pair>, StoreError> {
    let mut by_exact: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for p in pending {
        by_exact.entry(p.exact.as_str()).or_default().push(p.id);
    }
    let mut links = Vec::new();
    for ids in by_exact.values() {
        for w in ids.windows(2) {
            links.push(Pair::new(w[0], w[1], PairKind::Link, 1.0));
        }
    }
    let exact_ids: Vec<&str> = by_exact.keys().copied().collect();
    for (exact, stored) in tx.first_in_exact_groups(&exact_ids).await? {
        if let Some(ids) = by_exact.get(exact.as_str()) {
            links.push(Pair::new(ids[0], stored, PairKind::Link, 1.0));
        }
    }
    Ok(links)
}

/// The items tied to `seeds` through same-story and link pairs, transitively (sorted by id),
/// and every pair among them (conflicts too). `known` are pairs already in hand; a stored pair
/// read again replaces one in hand.
async fn component(
    tx: &mut FoldTx<'_>,
    seeds: &[i64],
    known: Vec<Pair>,
) -> Result<(Vec<i64>, Vec<Pair>), StoreError> {
    let mut nodes: HashSet<i64> = seeds.iter().copied().collect();
    let mut pairs: HashMap<(i64, i64), Pair> = known.into_iter().map(|p| ((p.a, p.b), p)).collect();
    let mut frontier: Vec<i64> = seeds.to_vec();
    while !frontier.is_empty() {
        frontier.sort_unstable();
        let mut next = Vec::new();
        for p in tx.pairs_of(&frontier).await? {
            if p.ties() {
                for id in [p.a, p.b] {
                    if nodes.insert(id) {
                        next.push(id);
                    }
                }
            }
            pairs.insert((p.a, p.b), p);
        }
        frontier = next;
    }
    let mut nodes: Vec<i64> = nodes.into_iter().collect();
    nodes.sort_unstable();
    let mut pairs: Vec<Pair> = pairs.into_values().collect();
    pairs.sort_unstable_by_key(|p| (p.a, p.b));
    Ok((nodes, pairs))
}

/// Most items in one component whose every pair is judged; a larger one (a source repeating
/// one text hundreds of times) is grouped from the pairs found through candidates only.
const MAX_JUDGED_COMPONENT: usize = 400;

/// The pairs of items in one component (tied through links and same-story pairs) that `pairs`
/// does not hold, lower id first.
fn unjudged(nodes: &[i64], pairs: &[Pair]) -> Vec<(i64, i64)> {
    let index: HashMap<i64, usize> = nodes.iter().enumerate().map(|(k, id)| (*id, k)).collect();
    let ties: Vec<(usize, usize)> = pairs
        .iter()
        .filter(|p| p.ties())
        .filter_map(|p| Some((*index.get(&p.a)?, *index.get(&p.b)?)))
        .collect();
    // Ties alone, taken as links: the components.
    let groups = cluster(nodes.len(), nodes.len(), &ties, &[], &HashSet::new());
    let mut components: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (id, g) in nodes.iter().zip(groups) {
        components.entry(g).or_default().push(*id);
    }
    let known: HashSet<(i64, i64)> = pairs.iter().map(|p| (p.a, p.b)).collect();
    let mut missing = Vec::new();
    for ids in components.values().filter(|c| c.len() >= 3) {
        if ids.len() > MAX_JUDGED_COMPONENT {
            tracing::warn!(
                items = ids.len(),
                "a story this large is grouped from its candidates' pairs only"
            );
            continue;
        }
        for (i, &a) in ids.iter().enumerate() {
            for &b in &ids[i + 1..] {
                if !known.contains(&(a, b)) {
                    missing.push((a, b));
                }
            }
        }
    }
    missing
}

/// The [`MemberRow`] of each of `nodes` (sorted by id), the waiting ones from `pending`. An
/// item deleted since its pairs were stored is left out of no node: it reads as waiting, alone.
async fn members_of(
    tx: &mut FoldTx<'_>,
    nodes: &[i64],
    pending: &[Candidate],
    first_seen: &HashMap<i64, i64>,
) -> Result<Vec<MemberRow>, StoreError> {
    let waiting: HashMap<i64, &Candidate> = pending.iter().map(|p| (p.id, p)).collect();
    let stored_ids: Vec<i64> = nodes
        .iter()
        .copied()
        .filter(|id| !waiting.contains_key(id))
        .collect();
    let mut stored = tx.members(&stored_ids).await?;
    Ok(nodes
        .iter()
        .map(|id| match waiting.get(id) {
            Some(p) => MemberRow {
                id: *id,
                story: None,
                exact: p.exact.clone(),
                first_seen: first_seen.get(id).copied().unwrap_or(i64::MAX),
            },
            None => stored.remove(id).unwrap_or(MemberRow {
                id: *id,
                story: None,
                exact: format!("st-{id:016x}"),
                first_seen: i64::MAX,
            }),
        })
        .collect())
}

/// The story id of each member, given its group (see the module documentation for the rule):
/// a stored story stays with the group holding its first member (first seen, then lowest id);
/// a group holding the first members of several keeps the oldest one's id (the others are
/// merged into it); a group holding none takes the exact-group id of its first member, unless
/// a story elsewhere has that id.
async fn assign_stories(
    tx: &mut FoldTx<'_>,
    members: &[MemberRow],
    groups: &[usize],
) -> Result<Vec<String>, StoreError> {
    let order = |k: usize| (members[k].first_seen, members[k].id);
    // Each stored story's first member in the component.
    let mut founder: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, m) in members.iter().enumerate() {
        if let Some(s) = m.story.as_deref() {
            let f = founder.entry(s).or_insert(k);
            if order(k) < order(*f) {
                *f = k;
            }
        }
    }
    // Per group: its first member, and the stored story it keeps.
    let mut first: BTreeMap<usize, usize> = BTreeMap::new();
    for (k, &g) in groups.iter().enumerate() {
        let f = first.entry(g).or_insert(k);
        if order(k) < order(*f) {
            *f = k;
        }
    }
    let mut kept: BTreeMap<usize, (usize, &str)> = BTreeMap::new();
    for (story, &k) in &founder {
        let g = groups[k];
        let e = kept.entry(g).or_insert((k, story));
        if order(k) < order(e.0) {
            *e = (k, story);
        }
    }
    // Groups without a stored story: their first member's exact-group id, when no story
    // outside the component uses it and no other group here takes it.
    let wanted: Vec<&str> = first
        .iter()
        .filter(|(g, _)| !kept.contains_key(g))
        .map(|(_, &k)| members[k].exact.as_str())
        .collect();
    let mut taken: HashSet<String> = kept.values().map(|(_, s)| s.to_string()).collect();
    let inside: HashSet<&str> = founder.keys().copied().collect();
    for s in tx.stories_in_use(&wanted).await? {
        if !inside.contains(s.as_str()) {
            taken.insert(s);
        }
    }
    let mut story_of: BTreeMap<usize, String> = kept.iter().map(|(g, (_, s))| (*g, s.to_string())).collect();
    for (g, &k) in &first {
        if story_of.contains_key(g) {
            continue;
        }
        let mut id = members[k].exact.clone();
        if taken.contains(&id) {
            id = format!(
                "st-{:016x}",
                xxhash_rust::xxh3::xxh3_64(format!("{id}/{}", members[k].id).as_bytes())
            );
        }
        taken.insert(id.clone());
        story_of.insert(*g, id);
    }
    Ok(groups.iter().map(|g| story_of[g].clone()).collect())
}

/// A waiting item's regions as a story of its own, worked out when it was stored.
struct Alone {
    source: String,
    /// The `[[source]] region` they were worked out with.
    prior: Option<usize>,
    regions: Regions,
}

/// The regions of each story of `copies` (item id, story: every copy of those stories), from
/// the comparison text of all its copies (oldest first) and the first `[[source]] region` prior
/// among their sources; and the sources with an item in those stories, sorted. A story of one
/// copy found in `alone` (with the same prior) takes the regions worked out when it was stored,
/// which are the same: its text is not read again.
async fn story_regions(
    tx: &mut FoldTx<'_>,
    copies: &[(i64, &str)],
    priors: &HashMap<String, usize>,
    alone: &HashMap<i64, Alone>,
) -> Result<(HashMap<String, Regions>, Vec<String>), StoreError> {
    let mut members: HashMap<&str, Vec<i64>> = HashMap::new();
    for (id, story) in copies {
        members.entry(story).or_default().push(*id);
    }
    let mut regions: HashMap<String, Regions> = HashMap::with_capacity(members.len());
    let mut sources: Vec<String> = Vec::new();
    let mut story_of: HashMap<i64, &str> = HashMap::new();
    for (story, ids) in &members {
        let known = match ids.as_slice() {
            [id] => alone
                .get(id)
                .filter(|a| a.prior == priors.get(&a.source).copied()),
            _ => None,
        };
        match known {
            Some(a) => {
                regions.insert(story.to_string(), a.regions.clone());
                sources.push(a.source.clone());
            }
            None => story_of.extend(ids.iter().map(|id| (*id, *story))),
        }
    }
    let ids: Vec<i64> = story_of.keys().copied().collect();
    let mut by_story: BTreeMap<&str, Vec<CopyRow>> = BTreeMap::new();
    for copy in tx.copies(&ids).await? {
        let Some(story) = story_of.get(&copy.id) else {
            continue;
        };
        by_story.entry(story).or_default().push(copy);
    }
    for list in by_story.values_mut() {
        list.sort_unstable_by_key(|c| (c.first_seen, c.id));
        sources.extend(list.iter().map(|c| c.source.clone()));
    }
    sources.sort_unstable();
    sources.dedup();
    let order: Vec<(&&str, &Vec<CopyRow>)> = by_story.iter().collect();
    let gazetteer = Gazetteer::embedded();
    let tagged = par_map(&order, |(_, list)| {
        let prior = list.iter().find_map(|c| priors.get(&c.source).copied());
        Regions(gazetteer.classify(list.iter().map(|c| (c.title.as_str(), c.body.as_str())), prior))
    });
    regions.extend(
        order
            .iter()
            .zip(tagged)
            .map(|((story, _), regions)| ((**story).to_string(), regions)),
    );
    Ok((regions, sources))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use crate::model::Item;
    use crate::store::Rendered;
    use chrono::{DateTime, TimeZone, Utc};

    const BODY: &str = "<p>1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。省委书记主持会议并讲话。他强调，要从讲政治的高度，紧紧围绕守护人民群众生命安全和身体健康抓好疫情防控。</p><p>会议要求，工作上不能有丝毫放松，核酸检测、转运管控、隔离救治、生活保障等任何一项工作都必须坚决做到位。</p>";

    pub(crate) fn item(key: &str, title: &str, hour: i64) -> Item {
        Item {
            key: key.to_string(),
            guid: Some(key.to_string()),
            title: Some(title.to_string()),
            content: Some(BODY.to_string()),
            published: Utc.timestamp_opt(1_641_000_000 + hour * 3600, 0).single(),
            ..Item::default()
        }
    }

    pub(crate) fn render(i: &Item) -> Rendered {
        Rendered {
            title_html: None,
            summary_html: None,
            content_html: i.content.clone(),
        }
    }

    pub(crate) fn sqlite_url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())
    }

    /// A SQLite store in `dir` holding a1 of source a (waiting for a pass), and when it was stored.
    pub(crate) async fn store_with_a1(dir: &tempfile::TempDir) -> (Store, DateTime<Utc>) {
        let now = Utc.timestamp_opt(1_641_100_000, 0).single().expect("now");
        let store = Store::open(&sqlite_url(dir)).await.expect("open");
        crate::pipeline::ingest::items(
            &store,
            &ReadyMap::default(),
            "a",
            &[item("a1", "西安召开疫情防控会议", 0)],
            now,
            std::sync::Arc::new(render),
        )
        .await
        .expect("ingest");
        (store, now)
    }

    fn copy(key: &str, title: &str, body: &str) -> Item {
        Item {
            key: key.to_string(),
            guid: Some(key.to_string()),
            title: Some(title.to_string()),
            content: Some(body.to_string()),
            published: Utc.timestamp_opt(1_641_000_000, 0).single(),
            ..Item::default()
        }
    }

    /// The stories as sets of item keys, and each item's story.
    async fn partition(store: &Store) -> (BTreeSet<BTreeSet<String>>, HashMap<String, String>) {
        let items = store.all_items().await.expect("items");
        let mut groups: HashMap<String, BTreeSet<String>> = HashMap::new();
        for i in &items {
            groups
                .entry(i.story_id.clone())
                .or_default()
                .insert(i.key.clone());
        }
        (
            groups.into_values().collect(),
            items.into_iter().map(|i| (i.key, i.story_id)).collect(),
        )
    }

    /// Fetches `batches` (source, item) one pass each, an hour apart, into a new store; returns
    /// the stories, and the story of each item after each pass.
    async fn fold_in_passes(
        batches: &[(&str, &Item)],
    ) -> (BTreeSet<BTreeSet<String>>, Vec<HashMap<String, String>>) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&sqlite_url(&dir)).await.expect("open");
        let mut after = Vec::new();
        for (hour, (source, item)) in batches.iter().enumerate() {
            let now = Utc
                .timestamp_opt(1_641_100_000 + hour as i64 * 3600, 0)
                .single()
                .expect("now");
            crate::pipeline::ingest::items(
                &store,
                &ReadyMap::default(),
                source,
                &[(*item).clone()],
                now,
                std::sync::Arc::new(render),
            )
            .await
            .expect("ingest");
            fold_pending(
                &store,
                &FoldConfig::default(),
                &HashMap::new(),
                &ReadyMap::default(),
            )
            .await
            .expect("fold");
            after.push(partition(&store).await.1);
        }
        let stories = partition(&store).await.0;
        store.close().await;
        (stories, after)
    }

    const FIRST_HALF: &str = "<p>1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。省委书记主持会议并讲话。他强调，要从讲政治的高度，紧紧围绕守护人民群众生命安全和身体健康抓好疫情防控。</p>";
    const SECOND_HALF: &str = "<p>会议要求，工作上不能有丝毫放松，核酸检测、转运管控、隔离救治、生活保障等任何一项工作都必须坚决做到位，确保社会面清零目标早日实现。</p>";

    /// Two stored stories that a new copy shows to be one are merged: the story whose first
    /// member is older keeps its id, whichever order the copies came in, and the stories are
    /// those of one pass over all three.
    #[tokio::test]
    async fn a_copy_that_joins_two_stored_stories_merges_them_under_the_older_id() {
        let a = copy("a1", "西安召开疫情防控会议", FIRST_HALF);
        let b = copy("b1", "西安：核酸检测必须做到位", SECOND_HALF);
        let c = copy(
            "c1",
            "西安召开疫情防控视频会议",
            &format!("{FIRST_HALF}{SECOND_HALF}"),
        );
        let (stories, after) = fold_in_passes(&[("a", &a), ("b", &b), ("c", &c)]).await;
        assert_ne!(after[1]["a1"], after[1]["b1"], "the halves alone are two stories");
        assert_eq!(stories.len(), 1, "the whole text ties them: {stories:?}");
        assert_eq!(after[2]["c1"], after[1]["a1"], "the older story's id survives");
        let (reversed, after) = fold_in_passes(&[("b", &b), ("a", &a), ("c", &c)]).await;
        assert_eq!(reversed, stories);
        assert_eq!(after[2]["c1"], after[1]["b1"], "the older story's id survives");
    }

    /// A stored story that a new copy shows to hold two different notices is split: the copy
    /// takes the member it matches best, the member whose facts conflict with it keeps apart,
    /// and the member first seen keeps the story's id.
    #[tokio::test]
    async fn a_copy_that_conflicts_with_a_stored_member_splits_its_story() {
        let common = "<p>预计未来6小时内，全市大部分地区将出现50毫米以上的强降水，并伴有雷电和8级以上短时大风，请市民注意防范，减少外出，远离低洼易涝地带和危险建筑物。</p>";
        let tail = "<p>气象部门提醒：请关注最新预警信息。</p>";
        let day = |d: u32| format!("<p>广州市气象台5月{d}日10时发布暴雨黄色预警信号。</p>{common}");
        let a = copy(
            "a9",
            "广州暴雨黄色预警",
            &format!(
                "{}<p>市三防办已启动防暴雨四级应急响应，各区各部门要加强值守。</p>",
                day(9)
            ),
        );
        let b = copy("b", "广州暴雨黄色预警", &format!("{common}{tail}"));
        let c = copy("c10", "广州暴雨黄色预警", &format!("{}{tail}", day(10)));
        let (stories, after) = fold_in_passes(&[("a", &a), ("b", &b), ("c", &c)]).await;
        assert_eq!(after[1]["a9"], after[1]["b"], "a9 and b were one story");
        assert_ne!(after[2]["a9"], after[2]["c10"], "the 9th and the 10th conflict");
        assert_eq!(after[2]["b"], after[2]["c10"], "b is closer to the 10th");
        assert_eq!(
            after[2]["a9"], after[1]["a9"],
            "the first member keeps the story's id"
        );
        let (reversed, _) = fold_in_passes(&[("c", &c), ("b", &b), ("a", &a)]).await;
        assert_eq!(reversed, stories, "the same stories in any order");
    }

    /// A pass that puts a new copy into a stored story raises the change counters of every
    /// source in that story, not only the new copy's: an output of the old copy's source shows
    /// the new one among its "also reported by" (and the daemons re-render it).
    #[tokio::test]
    async fn joining_a_story_changes_the_sources_already_in_it() {
        let dir = tempfile::tempdir().expect("dir");
        let (store, now) = store_with_a1(&dir).await;
        let cfg = FoldConfig::default();
        fold_pending(&store, &cfg, &HashMap::new(), &ReadyMap::default())
            .await
            .expect("fold");
        let before = store.source_generations(&["a", "b"]).await.expect("counters");
        crate::pipeline::ingest::items(
            &store,
            &ReadyMap::default(),
            "b",
            &[item("b1", "陕西：抓好疫情防控", 1)],
            now,
            std::sync::Arc::new(render),
        )
        .await
        .expect("ingest");
        let stored = store.source_generations(&["a", "b"]).await.expect("counters");
        assert_eq!(stored[0], before[0], "storing b's item changes b only");
        assert!(stored[1] > before[1]);
        let report = fold_pending(&store, &cfg, &HashMap::new(), &ReadyMap::default())
            .await
            .expect("fold");
        assert_eq!(report.joined, 1);
        let folded = store.source_generations(&["a", "b"]).await.expect("counters");
        assert!(folded[0] > stored[0], "a's story gained b's copy");
        assert!(folded[1] > stored[1], "b's item got its story");
        store.close().await;
    }
}
