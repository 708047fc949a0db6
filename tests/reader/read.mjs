// Reads a feed with @extractus/feed-extractor (RSS, Atom and JSON Feed) and prints its entry
// titles as a JSON array. Used by tests/reader/check.py for the JSON Feed newsboat cannot read.
import { extract } from '@extractus/feed-extractor'

const feed = await extract(process.argv[2], { normalization: true })
console.log(JSON.stringify(feed.entries.map((e) => e.title)))
