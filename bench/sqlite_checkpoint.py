#!/usr/bin/env python3
"""How the WAL checkpoint interval changes the cost of writing a cold cycle's items into SQLite.

Usage: bench/sqlite_checkpoint.py STORE.db [ROWS_PER_TRANSACTION]

STORE.db is a feedfold SQLite store after a cold cycle (benchmark (iv) leaves one: run
`feedfold fetch` on its config). Its `items` rows and their `item_bodies` rows are inserted again,
ROWS_PER_TRANSACTION items (30, one source's fetch) per transaction, into a fresh database with
the same schema, WAL and
synchronous=NORMAL as feedfold uses, once with SQLite's default checkpoint (1,000 pages) and
once with feedfold's (10,000 pages); the time of each is printed, final checkpoint included.
"""
import os
import sqlite3
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    per_txn = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    src = sqlite3.connect(sys.argv[1])
    tables = []  # (INSERT statement, rows in item order)
    for table in ("items", "item_bodies"):
        cols = [d[0] for d in src.execute("SELECT * FROM %s LIMIT 1" % table).description]
        rows = src.execute("SELECT * FROM %s ORDER BY rowid" % table).fetchall()  # insert order
        insert = "INSERT INTO %s (%s) VALUES (%s)" % (table, ",".join(cols), ",".join("?" * len(cols)))
        tables.append((insert, rows))
    schema = [r[0] for r in src.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE '_sqlx%'")]
    items = len(tables[0][1])
    print("%d items, %.1f MB of row data, %d per transaction" % (
        items, sum(len(str(v)) for _, rows in tables for r in rows for v in r if v is not None) / 1e6,
        per_txn))
    for pages in (1000, 10000):
        with tempfile.TemporaryDirectory() as work:
            db = sqlite3.connect(os.path.join(work, "bench.db"), isolation_level=None)
            for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -8192",
                           "wal_autocheckpoint = %d" % pages):
                db.execute("PRAGMA " + pragma)
            for sql in schema:
                db.execute(sql)
            started = time.time()
            for k in range(0, items, per_txn):
                db.execute("BEGIN IMMEDIATE")
                for insert, rows in tables:
                    db.executemany(insert, rows[k:k + per_txn])
                db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            print("  wal_autocheckpoint = %5d pages: %.2f s" % (pages, time.time() - started))
            db.close()


if __name__ == "__main__":
    main()
