//! Story folding on feeds built from the seed articles (tests/fixtures/fold/README.md).

use std::collections::HashMap;

use feedfold::model::StoredItem;
use feedfold::pipeline::explain::explain;

use crate::support::{Backend, Env, FOLD_FIXTURES, Origin, fixtures, sources};

fn fold_fixture(name: &str) -> String {
    fixtures().join("fold").join(name).display().to_string()
}

fn file_sources(names: &[&str]) -> String {
    let list: Vec<(&str, String)> = names
        .iter()
        .map(|n| (n.trim_end_matches(".xml"), fold_fixture(n)))
        .collect();
    sources(&list)
}

async fn stories(env: &Env) -> HashMap<String, String> {
    env.store
        .all_items()
        .await
        .expect("items")
        .into_iter()
        .map(|i: StoredItem| (i.guid.clone().unwrap_or_default(), i.story_id))
        .collect()
}

async fn seeds_fold_into_stories_and_look_alikes_stay_apart(backend: Backend) {
    let Some(env) = Env::on(backend, &file_sources(&FOLD_FIXTURES)).await else {
        return;
    };
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    let s = stories(&env).await;
    // Seeds 000 and 001: one story under two titles, one of them wrapped in a sidebar.
    assert_eq!(s["qtt-1"], s["gc-1"], "000 + 001 fold");
    // A summary-only copy folds into its full text.
    assert_eq!(s["qc-1"], s["qtt-1"], "summary folds");
    // Seed 004: the same officials at another meeting: a different story.
    assert_ne!(s["tn-1"], s["qtt-1"], "004 stays apart");
    // Traditional, pinyin-mangled, doubled punctuation: folds with its simplified original.
    assert_eq!(s["jyt-1"], s["jy-1"], "script and mangling fold");
    assert_ne!(s["jyt-1"], s["qtt-1"]);
    // Daily reports with one title on consecutive days are two stories; a copy joins its day.
    assert_ne!(s["nhc-15"], s["nhc-16"], "identical titles, different days");
    assert_eq!(s["ht-1"], s["nhc-15"], "a copy of a daily report joins its day");
    assert_ne!(s["ht-1"], s["nhc-16"]);

    let items = env.store.all_items().await.expect("items");
    let groups: std::collections::BTreeSet<_> = items.iter().map(|i| i.story_id.clone()).collect();
    assert_eq!(groups.len(), 5, "{s:?}");
}

async fn a_story_keeps_its_id_when_a_longer_copy_arrives(backend: Backend) {
    let origin = Origin::start().await;
    let empty = "<rss version=\"2.0\"><channel><title>late</title><link>https://guancha.example/</link><description>d</description></channel></rss>";
    origin.set_mutable("late.xml", empty.as_bytes());
    let body = format!(
        "[[output]]\nname = \"all\"\ntitle = \"All\"\n\n{}{}",
        file_sources(&["summary.xml"]),
        sources(&[("late", origin.url("/mutable/late.xml"))])
    );
    let Some(env) = Env::on(backend, &body).await else {
        return;
    };
    env.fetch().await;
    let out = env.publish().await;
    let first =
        feed_rs::parser::parse(std::fs::read(out.join("all.atom")).expect("atom").as_slice()).expect("atom");
    assert_eq!(first.entries.len(), 1);

    origin.set_mutable(
        "late.xml",
        &std::fs::read(fold_fixture("sxdaily.xml")).expect("fixture"),
    );
    env.fetch().await;
    env.publish().await;
    let second =
        feed_rs::parser::parse(std::fs::read(out.join("all.atom")).expect("atom").as_slice()).expect("atom");
    assert_eq!(second.entries.len(), 1, "the full text joined the story");
    assert_eq!(
        second.entries[0].id, first.entries[0].id,
        "the entry id did not change"
    );
    let shown = second.entries[0]
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| second.entries[0].summary.as_ref().map(|s| s.content.clone()))
        .unwrap_or_default();
    assert!(shown.len() > 2000, "the longer copy is shown now");
    let related: Vec<_> = second.entries[0]
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("related"))
        .collect();
    assert_eq!(related.len(), 1, "the summary's source is listed");
    let s = stories(&env).await;
    assert_eq!(s["gc-1"], s["qc-1"]);
}

/// An Atom entry with only `<updated>` is dated by it, not by when it was first fetched: a summary
/// of seed 000 fetched years after its original still folds into it (within the window), where
/// dating it by its first fetch put it beyond the window, which only a near-verbatim copy crosses.
#[tokio::test]
async fn an_entry_with_only_updated_is_dated_by_it() {
    let env = Env::new(&file_sources(&["qutoutiao.xml", "updated-only.xml"])).await;
    env.fetch().await;
    let s = stories(&env).await;
    assert_eq!(s["tag:qinchuan.example,2022:upd-1"], s["qtt-1"], "{s:?}");
    let lone = explain(&env.store, "tag:qinchuan.example,2022:upd-1", &env.config.fold)
        .await
        .expect("explain")
        .expect("found");
    assert_eq!(lone.members.len(), 1, "{lone:?}");
    assert!(lone.members[0].similarity.hours_apart < 72.0, "{lone:?}");
}

#[tokio::test]
async fn explain_answers_for_a_folded_and_a_lone_item() {
    let env = Env::new(&file_sources(&["qutoutiao.xml", "sxdaily.xml", "tianning.xml"])).await;
    env.fetch().await;
    let folded = explain(
        &env.store,
        "https://guancha.example/politics/2022_01_07_1.shtml",
        &env.config.fold,
    )
    .await
    .expect("explain")
    .expect("found");
    assert_eq!(folded.members.len(), 1);
    assert!(folded.members[0].verdict.is_same(), "{:?}", folded.members[0]);
    assert!(folded.removed > 0, "the sidebar was stripped: {folded:?}");

    let lone = explain(&env.store, "tn-1", &env.config.fold)
        .await
        .expect("explain")
        .expect("found");
    assert!(lone.members.is_empty());
    assert!(!lone.nearest.is_empty(), "its nearest candidates are listed");
    assert!(
        lone.nearest.iter().all(|n| !n.verdict.is_same()),
        "{:?}",
        lone.nearest
    );
    assert!(
        explain(&env.store, "no-such-item", &env.config.fold)
            .await
            .expect("explain")
            .is_none()
    );
}

/// `explain` takes the ids outputs and `explain` print: a story id, and entry ids of every
/// form (an output's, a view's, the legacy one, and an item's with `dedup = "off"`).
async fn explain_finds_items_by_story_and_entry_ids(backend: Backend) {
    use feedfold::config::Dedup;
    use feedfold::output::{entry_id, item_group_key};
    let Some(env) = Env::on(
        backend,
        &file_sources(&["qutoutiao.xml", "sxdaily.xml", "tianning.xml"]),
    )
    .await
    else {
        return;
    };
    env.fetch().await;
    let fold = &env.config.fold;
    let by_link = explain(
        &env.store,
        "https://guancha.example/politics/2022_01_07_1.shtml",
        fold,
    )
    .await
    .expect("explain")
    .expect("found");
    let story = by_link.story.clone();
    assert!(story.starts_with("st-"), "{story}");
    let ids = [
        story.clone(),
        entry_id(Dedup::Story, &story, "all", None, false),
        entry_id(Dedup::Story, &story, "all", Some("0123456789abcdef"), false),
        entry_id(Dedup::Story, &story, "all", None, true),
    ];
    for id in ids {
        let e = explain(&env.store, &id, fold)
            .await
            .expect("explain")
            .unwrap_or_else(|| panic!("nothing for {id}"));
        assert_eq!(e.story, story, "{id}");
        assert_eq!(e.members.len(), 1, "{id}: the other copy");
    }
    for item in env.store.all_items().await.expect("items") {
        let id = entry_id(
            Dedup::Off,
            &item_group_key(&item.source, &item.key),
            "every",
            None,
            false,
        );
        let e = explain(&env.store, &id, fold)
            .await
            .expect("explain")
            .unwrap_or_else(|| panic!("nothing for {id}"));
        assert_eq!(
            (e.source.as_str(), e.title.as_deref()),
            (item.source.as_str(), item.title.as_deref()),
            "{id}"
        );
    }
    for nothing in [
        "st-0000000000000000",
        "urn:feedfold:out:all:story:st-0000000000000000",
        "urn:feedfold:out:all:item:0000000000000000",
    ] {
        assert!(
            explain(&env.store, nothing, fold)
                .await
                .expect("explain")
                .is_none(),
            "{nothing}"
        );
    }
}

on_both_backends!(
    seeds_fold_into_stories_and_look_alikes_stay_apart,
    a_story_keeps_its_id_when_a_longer_copy_arrives,
    explain_finds_items_by_story_and_entry_ids,
);
