#!/usr/bin/env python3
"""Scores `feedfold export` output against tests/fixtures/templated/labels.json.

Usage: score_templated.py EXPORT.jsonl LABELS.json   (standard library only)

Pairs are pairs of labelled items (by `id`, the GUID / Atom id / JSON Feed id as written):
- precision: of the pairs feedfold put in one story (same `cluster`), those whose labels name
  the same story; recall: of the pairs the labels put in one story, those feedfold folded;
  F1 their harmonic mean;
- must-not-merge pairs merged: pairs in one cluster whose labels name different stories, each
  listed with its titles;
- city accuracy: items whose primary region (the first of `regions`) is right, over all
  labelled items. Right means the primary code equals the label's `code` (an adcode, or the ISO
  code of a foreign story), or, when the label's code is a county (a district or the county of a
  town), equals the adcode of the label's city. Misses are listed.

Exits 1 when a labelled item is missing from the export or the export has unlabelled items.
"""
import json
import os
import sys
from collections import defaultdict
from itertools import combinations


def main(export_path, labels_path):
    labels = json.load(open(labels_path, encoding="utf-8"))
    rows = [json.loads(line) for line in open(export_path, encoding="utf-8") if line.strip()]
    items = {r["id"]: r for r in rows if r.get("id") in labels}
    missing = sorted(set(labels) - set(items))
    extra = sorted(str(r.get("id")) for r in rows if r.get("id") not in labels)
    if missing or extra:
        print(f"labelled items missing from the export: {missing}", file=sys.stderr)
        print(f"exported items without a label: {extra}", file=sys.stderr)
        return 1

    city_codes = divisions()
    ids = sorted(items)
    tp = fp = fn = 0
    wrong = []
    for a, b in combinations(ids, 2):
        same_cluster = items[a]["cluster"] == items[b]["cluster"]
        same_story = labels[a]["story"] == labels[b]["story"]
        if same_cluster and same_story:
            tp += 1
        elif same_cluster:
            fp += 1
            wrong.append((a, b))
        elif same_story:
            fn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    misses = []
    for i in ids:
        label = labels[i]
        regions = items[i].get("regions") or []
        got = regions[0]["code"] if regions else None
        if not region_ok(got, label, city_codes):
            misses.append((i, got))
    accuracy = 1 - len(misses) / len(ids)

    stories = {labels[i]["story"] for i in ids}
    clusters = {items[i]["cluster"] for i in ids}
    print(f"items: {len(ids)}  stories (labelled): {len(stories)}  clusters: {len(clusters)}")
    print(f"pairs: folded {tp + fp}, labelled {tp + fn}")
    print(f"precision: {precision:.4f}")
    print(f"recall:    {recall:.4f}")
    print(f"F1:        {f1:.4f}")
    print(f"must-not-merge pairs merged: {fp}")
    print(f"city accuracy: {accuracy:.4f} ({len(ids) - len(misses)}/{len(ids)})")

    if wrong:
        # One line per pair of stories, with one title of each (the first item pair's).
        by_story = defaultdict(list)
        for a, b in wrong:
            key = tuple(sorted((labels[a]["story"], labels[b]["story"])))
            by_story[key].append((a, b) if labels[a]["story"] == key[0] else (b, a))
        print(f"\nwrongly merged: {len(by_story)} pairs of stories ({fp} item pairs)")
        for (s1, s2), pairs in sorted(by_story.items()):
            a, b = pairs[0]
            print(f"  {s1} + {s2} ({len(pairs)} item pairs): "
                  f"{items[a]['title']} / {items[b]['title']}")
    split = defaultdict(set)
    for i in ids:
        split[labels[i]["story"]].add(items[i]["cluster"])
    broken = sorted(s for s, c in split.items() if len(c) > 1)
    if broken:
        print(f"\nstories split over several clusters: {', '.join(broken)}")
    if misses:
        print("\nregion misses (item: label code, primary region):")
        for i, got in misses:
            label = labels[i]
            where = label.get("city") or label.get("province") or label.get("country")
            print(f"  {i}: {where} {label['code']}, got {got}")
    return 0


def region_ok(got, label, city_codes):
    if got is None:
        return False
    if got == label["code"]:
        return True
    city = label.get("city")
    return bool(city) and city_codes.get(label["code"]) == "county" and got == city_codes.get(city)


def divisions():
    """Level of every code, and adcode of every city name, from data/regions/divisions.tsv."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    with open(os.path.join(root, "data/regions/divisions.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            code, level, _parent, name = line.rstrip("\n").split("\t")[:4]
            out[code] = level
            if level == "prefecture":
                out[name] = code
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
