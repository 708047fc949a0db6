//! The folding pass: gives every waiting item its story.
//!
//! In: items stored with no story yet (a fetch's new items), the index (`lsh`), the folding
//! thresholds. Out: a story id on every waiting item, and a [`FoldReport`].
//!
//! All waiting items are judged together. They are put in the index (`lsh`) first: a fetch
//! stores its new items without band keys, and this pass writes every waiting item's keys in
//! one go, in key order, in the transaction that gives them their stories; so an item has
//! band keys exactly when it has a story. Then each is compared with the items its band keys point
//! to (waiting or stored) and tied to the items of its exact group; then
//! [`cluster`](crate::transform::fold::cluster) groups them best pair first, never putting two
//! stored stories or two conflicting items together. A group that contains a stored story takes
//! its id (story ids never change); a new group takes the exact-group id of its earliest item.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use sqlx::{AnyConnection, Row};

use super::ingest::{BATCH, Candidate, candidate_from_row, insert_index_rows, placeholder_list};
use super::{Store, StoreError, par_map, query_error};
use crate::transform::fold::{FoldConfig, Verdict, cluster, compare};
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

const COLUMNS: &str = "id, story_id, exact_id, cmp_title, cmp_body, published, first_seen";

impl Store {
    /// Folds every item still waiting for a story (see the module documentation).
    /// Then recomputes the regions of every story that gained items, from the comparison text of
    /// all its copies; `priors` maps a source name to its `[[source]] region` unit.
    pub async fn fold_pending(
        &self,
        cfg: &FoldConfig,
        priors: &HashMap<String, usize>,
    ) -> Result<FoldReport, StoreError> {
        let _guard = self.write_guard().await;
        let err = || query_error("folding stories");
        let mut tx = self.pool.begin().await.map_err(err())?;
        let sql = format!("SELECT {COLUMNS} FROM items WHERE story_id IS NULL ORDER BY published, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *tx)
            .await
            .map_err(err())?;
        let pending: Vec<Candidate> = rows
            .iter()
            .map(candidate_from_row)
            .collect::<Result<_, _>>()
            .map_err(err())?;
        if pending.is_empty() {
            return Ok(FoldReport::default());
        }
        // Index the waiting items first (ingest leaves that to this pass, so it writes the whole
        // cycle's band keys at once, in key order), so they find each other as candidates.
        let mut rows: Vec<(i64, i64)> = pending
            .iter()
            .flat_map(|p| p.features.band_keys().into_iter().map(move |k| (k, p.id)))
            .collect();
        rows.sort_unstable();
        let started = std::time::Instant::now();
        insert_index_rows(&mut tx, &rows).await.map_err(err())?;
        tracing::debug!(rows = rows.len(), elapsed = ?started.elapsed(), "waiting items indexed");
        drop(rows);
        let index: HashMap<i64, usize> = pending.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let mut stories: Vec<String> = Vec::new();
        let mut story_node: HashMap<String, usize> = HashMap::new();
        let n = pending.len();
        let mut node_of_story = |story: &str, stories: &mut Vec<String>| -> usize {
            *story_node.entry(story.to_string()).or_insert_with(|| {
                stories.push(story.to_string());
                n + stories.len() - 1
            })
        };
        let mut links = Vec::new();
        let mut best: HashMap<(usize, usize), f64> = HashMap::new();
        let mut conflicts = HashSet::new();

        // Exact groups: waiting items with each other and with the stories of stored members.
        let mut by_exact: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, p) in pending.iter().enumerate() {
            by_exact.entry(p.exact.as_str()).or_default().push(i);
        }
        let exact_ids: Vec<&str> = by_exact.keys().copied().collect();
        let stored_stories = first_stories(&mut tx, &exact_ids).await.map_err(err())?;
        for (exact, members) in &by_exact {
            for w in members.windows(2) {
                links.push((w[0], w[1]));
            }
            if let Some(story) = stored_stories.get(*exact) {
                links.push((members[0], node_of_story(story, &mut stories)));
            }
        }

        // Near duplicates through the index, a chunk of waiting items at a time.
        for start in (0..n).step_by(CHUNK) {
            let chunk = &pending[start..n.min(start + CHUNK)];
            let found = candidates_of(&mut tx, chunk, &index).await.map_err(err())?;
            // The comparisons are pure: done on every core, then taken in order.
            let offsets: Vec<usize> = (0..chunk.len()).collect();
            let judged = par_map(&offsets, |&offset| {
                let (i, p) = (start + offset, &chunk[offset]);
                let mut out: Vec<(Option<&str>, usize, Judged)> = Vec::new();
                for id in &found.ranked[offset] {
                    let c = match index.get(id) {
                        Some(&j) => &pending[j],
                        None => &found.stored[id],
                    };
                    if c.id == p.id {
                        continue;
                    }
                    let other = match (&c.story, index.get(&c.id)) {
                        (None, Some(&j)) if j > i => j,
                        (None, _) => continue,
                        (Some(_), _) => usize::MAX,
                    };
                    let (sim, verdict) = compare(&p.features, &c.features, cfg);
                    let judged = match verdict {
                        Verdict::Same(_) => Judged::Same(sim.score()),
                        Verdict::Conflict(_) => Judged::Conflict,
                        Verdict::Apart(_) => Judged::Apart,
                    };
                    out.push((c.story.as_deref(), other, judged));
                }
                out
            });
            for (offset, list) in judged.into_iter().enumerate() {
                let i = start + offset;
                for (story, other, judged) in list {
                    let other = match story {
                        Some(story) => node_of_story(story, &mut stories),
                        None => other,
                    };
                    let pair = (i.min(other), i.max(other));
                    match judged {
                        Judged::Same(score) => {
                            let best = best.entry(pair).or_insert(0.0);
                            *best = best.max(score);
                        }
                        Judged::Conflict => {
                            conflicts.insert(pair);
                        }
                        Judged::Apart => {}
                    }
                }
            }
        }

        tracing::debug!(elapsed = ?started.elapsed(), "candidates compared");
        let edges: Vec<(usize, usize, f64)> = best.into_iter().map(|((a, b), s)| (a, b, s)).collect();
        let groups = cluster(n + stories.len(), n, &links, &edges, &conflicts);
        // A group's story: its stored story if it has one, else its earliest item's exact group.
        let mut group_story: HashMap<usize, String> = HashMap::new();
        for (k, story) in stories.iter().enumerate() {
            group_story.entry(groups[n + k]).or_insert_with(|| story.clone());
        }
        let mut report = FoldReport {
            items: n,
            ..FoldReport::default()
        };
        let stored_set: HashSet<&String> = stories.iter().collect();
        let mut touched: Vec<String> = Vec::new();
        let mut touched_set: HashSet<String> = HashSet::new();
        let mut assigned: Vec<(i64, String)> = Vec::with_capacity(n);
        for (i, p) in pending.iter().enumerate() {
            let story = match group_story.get(&groups[i]) {
                Some(s) => {
                    if stored_set.contains(s) {
                        report.joined += 1;
                    }
                    s.clone()
                }
                None => {
                    report.stories += 1;
                    let s = p.exact.clone();
                    group_story.insert(groups[i], s.clone());
                    s
                }
            };
            if touched_set.insert(story.clone()) {
                touched.push(story.clone());
            }
            assigned.push((p.id, story));
        }
        set_stories(&mut tx, &assigned).await.map_err(err())?;
        tracing::debug!(elapsed = ?started.elapsed(), "stories stored");
        for chunk in touched.chunks(BATCH) {
            tag_regions(&mut tx, chunk, priors).await.map_err(err())?;
        }
        tracing::debug!(elapsed = ?started.elapsed(), "regions tagged");
        tx.commit().await.map_err(err())?;
        tracing::debug!(elapsed = ?started.elapsed(), "fold committed");
        Ok(report)
    }
}

/// Waiting items whose candidates are looked up together.
const CHUNK: usize = 500;

/// What a comparison said, for the clustering step.
enum Judged {
    /// One story, with this similarity score.
    Same(f64),
    /// Facts disagree: never in one story.
    Conflict,
    /// Not the same story.
    Apart,
}

/// Most candidates compared per item (those sharing the most band keys).
const MAX_CANDIDATES: usize = 64;

/// The candidates of a chunk of waiting items.
struct Found {
    /// Per item, in order: candidate ids, most shared keys first (then lowest id), at most
    /// [`MAX_CANDIDATES`], only ids of stored items.
    ranked: Vec<Vec<i64>>,
    /// The candidates that are not waiting items themselves.
    stored: HashMap<i64, Candidate>,
}

/// For each item of `chunk`, the stored items sharing any of its query keys, most shared keys
/// first, at most [`MAX_CANDIDATES`]: what one `lsh` lookup per item gives, with one lookup
/// for the whole chunk. `waiting` indexes the waiting items (known already).
async fn candidates_of(
    conn: &mut AnyConnection,
    chunk: &[Candidate],
    waiting: &HashMap<i64, usize>,
) -> Result<Found, sqlx::Error> {
    let item_keys: Vec<Vec<i64>> = chunk
        .iter()
        .map(|p| {
            let mut keys = p.features.query_keys();
            keys.sort_unstable();
            keys.dedup();
            keys
        })
        .collect();
    let mut all: Vec<i64> = item_keys.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    // key → the item of every index row with that key (a row counted once per row, as COUNT(*)).
    let mut postings: HashMap<i64, Vec<i64>> = HashMap::with_capacity(all.len());
    for keys in all.chunks(BATCH) {
        let sql = format!(
            "SELECT key, item_id FROM lsh WHERE key IN ({})",
            placeholder_list(keys.len(), 1)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in keys {
            query = query.bind(*k);
        }
        for row in query.fetch_all(&mut *conn).await? {
            postings
                .entry(row.try_get("key")?)
                .or_default()
                .push(row.try_get("item_id")?);
        }
    }
    let by_shared: Vec<Vec<i64>> = item_keys
        .iter()
        .map(|keys| {
            let mut shared: HashMap<i64, i64> = HashMap::new();
            for k in keys {
                for id in postings.get(k).into_iter().flatten() {
                    *shared.entry(*id).or_default() += 1;
                }
            }
            let mut ranked: Vec<(i64, i64)> = shared.into_iter().collect();
            ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.into_iter().map(|(id, _)| id).collect()
        })
        .collect();
    // Index rows whose item is gone do not count (the lookup joins `items`): read the stored
    // candidates each item needs, then more if some were missing.
    let mut stored: HashMap<i64, Candidate> = HashMap::new();
    let mut missing: HashSet<i64> = HashSet::new();
    loop {
        let mut unknown: Vec<i64> = Vec::new();
        for ids in &by_shared {
            let mut taken = 0;
            for id in ids {
                if taken == MAX_CANDIDATES {
                    break;
                }
                if missing.contains(id) {
                    continue;
                }
                if !waiting.contains_key(id) && !stored.contains_key(id) {
                    unknown.push(*id);
                }
                taken += 1;
            }
        }
        if unknown.is_empty() {
            break;
        }
        unknown.sort_unstable();
        unknown.dedup();
        for ids in unknown.chunks(BATCH) {
            let sql = format!(
                "SELECT {COLUMNS} FROM items WHERE id IN ({})",
                placeholder_list(ids.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let c = candidate_from_row(&row)?;
                stored.insert(c.id, c);
            }
        }
        missing.extend(unknown.into_iter().filter(|id| !stored.contains_key(id)));
    }
    let ranked = by_shared
        .into_iter()
        .map(|ids| {
            ids.into_iter()
                .filter(|id| !missing.contains(id))
                .take(MAX_CANDIDATES)
                .collect()
        })
        .collect();
    Ok(Found { ranked, stored })
}

/// The story of each exact group's earliest stored member that has one.
async fn first_stories(
    conn: &mut AnyConnection,
    exact_ids: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut first: HashMap<String, String> = HashMap::new();
    for chunk in exact_ids.chunks(BATCH) {
        let sql = format!(
            "SELECT exact_id, story_id FROM items WHERE exact_id IN ({}) AND story_id IS NOT NULL \
             ORDER BY exact_id, first_seen, id",
            placeholder_list(chunk.len(), 1)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            query = query.bind(*e);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let exact: String = row.try_get("exact_id")?;
            if let std::collections::hash_map::Entry::Vacant(e) = first.entry(exact) {
                e.insert(row.try_get("story_id")?);
            }
        }
    }
    Ok(first)
}

/// Stores each waiting item's story, many items per statement.
async fn set_stories(conn: &mut AnyConnection, assigned: &[(i64, String)]) -> Result<(), sqlx::Error> {
    for chunk in assigned.chunks(BATCH / 2) {
        let mut cases = String::with_capacity(chunk.len() * 20);
        for j in 0..chunk.len() {
            let _ = write!(cases, " WHEN ${} THEN ${}", 2 * j + 1, 2 * j + 2);
        }
        let ids: Vec<String> = (0..chunk.len()).map(|j| format!("${}", 2 * j + 1)).collect();
        let sql = format!(
            "UPDATE items SET story_id = CASE id{cases} END WHERE id IN ({})",
            ids.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, story) in chunk {
            query = query.bind(*id).bind(story.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A story's copies (comparison title and body), oldest first, and the first `[[source]]
/// region` prior among their sources.
type Copies = (Vec<(String, String)>, Option<usize>);

/// Recomputes the regions of `stories` from all their copies and stores them on each of their
/// items; raises the change counters of every source with an item in them.
async fn tag_regions(
    conn: &mut AnyConnection,
    stories: &[String],
    priors: &HashMap<String, usize>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT story_id, source, cmp_title, cmp_body FROM items WHERE story_id IN ({}) ORDER BY first_seen, id",
        placeholder_list(stories.len(), 1)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for s in stories {
        query = query.bind(s.as_str());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    // Per story, in order: its copies (title, body) and the first prior of their sources.
    let mut copies: HashMap<String, Copies> = HashMap::new();
    let mut sources: Vec<String> = Vec::new();
    for row in &rows {
        let story: String = row.try_get("story_id")?;
        let source: String = row.try_get("source")?;
        let entry = copies.entry(story).or_default();
        entry.1 = entry.1.or_else(|| priors.get(&source).copied());
        entry
            .0
            .push((row.try_get("cmp_title")?, row.try_get("cmp_body")?));
        sources.push(source);
    }
    // Stories with the same regions are updated together.
    let gazetteer = Gazetteer::embedded();
    let tagged = par_map(stories, |story| {
        let (texts, prior) = copies
            .get(story)
            .map(|(t, p)| (t.as_slice(), *p))
            .unwrap_or((&[], None));
        let regions = gazetteer.classify(texts.iter().map(|(t, b)| (t.as_str(), b.as_str())), prior);
        serde_json::to_string(&regions).unwrap_or_else(|_| "[]".to_string())
    });
    let mut by_regions: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (story, json) in stories.iter().zip(tagged) {
        by_regions.entry(json).or_default().push(story);
    }
    for (json, group) in &by_regions {
        let sql = format!(
            "UPDATE items SET regions = $1 WHERE story_id IN ({})",
            placeholder_list(group.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json.as_str());
        for s in group {
            query = query.bind(*s);
        }
        query.execute(&mut *conn).await?;
    }
    sources.sort_unstable();
    sources.dedup();
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    super::bump_generations(conn, &sources).await
}
