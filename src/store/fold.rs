//! The folding pass: gives every waiting item its story.
//!
//! In: items stored with no story yet (a fetch's new items), the index (`lsh`), the folding
//! thresholds. Out: a story id on every waiting item, and a [`FoldReport`].
//!
//! All waiting items are judged together: each is compared with the items its band keys point
//! to (waiting or stored) and tied to the items of its exact group; then
//! [`cluster`](crate::transform::fold::cluster) groups them best pair first, never putting two
//! stored stories or two conflicting items together. A group that contains a stored story takes
//! its id (story ids never change); a new group takes the exact-group id of its earliest item.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::ingest::{Candidate, candidate_from_row, candidates};
use super::{Store, StoreError, query_error};
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
        for (exact, members) in &by_exact {
            for w in members.windows(2) {
                links.push((w[0], w[1]));
            }
            let stored: Option<String> = sqlx::query_scalar(
                "SELECT story_id FROM items WHERE exact_id = $1 AND story_id IS NOT NULL ORDER BY first_seen, id LIMIT 1",
            )
            .bind(*exact)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err())?;
            if let Some(story) = stored {
                links.push((members[0], node_of_story(&story, &mut stories)));
            }
        }

        // Near duplicates through the index.
        for (i, p) in pending.iter().enumerate() {
            let keys = p.features.query_keys();
            for c in candidates(&mut tx, &keys).await.map_err(err())? {
                if c.id == p.id {
                    continue;
                }
                let other = match (&c.story, index.get(&c.id)) {
                    (None, Some(&j)) if j > i => j,
                    (None, _) => continue,
                    (Some(story), _) => node_of_story(story, &mut stories),
                };
                let (sim, verdict) = compare(&p.features, &c.features, cfg);
                let pair = (i.min(other), i.max(other));
                match verdict {
                    Verdict::Same(_) => {
                        let score = best.entry(pair).or_insert(0.0);
                        *score = score.max(sim.score());
                    }
                    Verdict::Conflict(_) => {
                        conflicts.insert(pair);
                    }
                    Verdict::Apart(_) => {}
                }
            }
        }

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
        let mut touched: Vec<String> = Vec::new();
        for (i, p) in pending.iter().enumerate() {
            let story = match group_story.get(&groups[i]) {
                Some(s) => {
                    if stories.contains(s) {
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
            sqlx::query("UPDATE items SET story_id = $1 WHERE id = $2")
                .bind(&story)
                .bind(p.id)
                .execute(&mut *tx)
                .await
                .map_err(err())?;
            if !touched.contains(&story) {
                touched.push(story);
            }
        }
        for story in &touched {
            tag_regions(&mut tx, story, priors).await.map_err(err())?;
        }
        tx.commit().await.map_err(err())?;
        Ok(report)
    }
}

/// Recomputes a story's regions from all its copies and stores them on each of its items.
async fn tag_regions(
    tx: &mut sqlx::AnyConnection,
    story: &str,
    priors: &HashMap<String, usize>,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT source, cmp_title, cmp_body FROM items WHERE story_id = $1 ORDER BY first_seen, id",
    )
    .bind(story)
    .fetch_all(&mut *tx)
    .await?;
    let mut copies: Vec<(String, String)> = Vec::with_capacity(rows.len());
    let mut prior = None;
    for row in &rows {
        let source: String = row.try_get("source")?;
        prior = prior.or_else(|| priors.get(&source).copied());
        copies.push((row.try_get("cmp_title")?, row.try_get("cmp_body")?));
    }
    let regions = Gazetteer::embedded().classify(copies.iter().map(|(t, b)| (t.as_str(), b.as_str())), prior);
    sqlx::query("UPDATE items SET regions = $1 WHERE story_id = $2")
        .bind(serde_json::to_string(&regions).unwrap_or_else(|_| "[]".to_string()))
        .bind(story)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
