#!/usr/bin/env python3
"""Crash test (run by .ci/run): `feedfold serve` killed with SIGKILL at random moments loses nothing.

Usage: tests/crash/kill.py FEEDFOLD_BINARY [KILLS] [SEED]

A loopback origin serves SOURCES feeds; every fetch of a feed brings NEW_PER_FETCH new items and
now and then edits an older one, so the daemon is always storing, folding or rendering something.
The daemon is started, killed with SIGKILL after a random delay, and started again, KILLS times.
After each kill the store must open and pass SQLite's integrity check. Then the origin stops
changing, the daemon runs once more until it is idle, and the script checks:
  - no item the daemon reported stored (its "stored ... new=N" log lines, written after the commit)
    is missing: per source, the store holds at least the sum of the reported new items;
  - no item is stored twice (one row per origin guid) and every item belongs to exactly one story;
  - the served output (dedup off) lists exactly the stored items;
  - SIGTERM then stops the daemon with exit code 0.
Prints one summary line with the figures; exits 1 on the first failed check.
"""

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCES = 60
WINDOW = 30  # items in a feed: a source would have to lose 10 fetches in a row to skip one
NEW_PER_FETCH = 3
WORDS = ("river bridge council budget school harbour festival rail museum market storm "
         "library hospital election stadium factory airport orchard village mayor").split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Origin:
    """Feeds that grow on every fetch until frozen."""

    def __init__(self):
        self.fetches = [0] * SOURCES
        self.frozen = False
        self.lock = threading.Lock()

    def feed(self, k):
        with self.lock:
            if not self.frozen:
                self.fetches[k] += 1
            c = self.fetches[k]
        top = c * NEW_PER_FETCH
        items = []
        for n in range(max(0, top - WINDOW), top):
            rng = random.Random(k * 100_003 + n)
            words = " ".join(rng.choice(WORDS) for _ in range(12))
            # Every fourth fetch edits one item: an update in place, not a new item.
            edit = " (updated %d)" % c if n == top - WINDOW + 1 and c % 4 == 0 else ""
            body = "".join("<p>%s %d %d %s.</p>" % (words, k, n, rng.choice(WORDS)) for _ in range(4))
            items.append(
                "<item><title>Source %d story %d: %s%s</title><link>http://example.com/s%d/%d</link>"
                "<guid isPermaLink=\"false\">s%d-%d</guid><pubDate>Mon, 02 Nov 2026 %02d:%02d:00 GMT</pubDate>"
                "<description><![CDATA[%s]]></description></item>"
                % (k, n, words, edit, k, n, k, n, (n // 60) % 24, n % 60, body)
            )
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>"
                "<title>Source %d</title><link>http://example.com/s%d/</link><description>test</description>"
                "%s</channel></rss>" % (k, k, "".join(reversed(items)))).encode()


def serve_origin(origin, port):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            m = re.fullmatch(r"/feed/(\d+)\.xml", self.path)
            if not m or int(m.group(1)) >= SOURCES:
                self.send_error(404)
                return
            body = origin.feed(int(m.group(1)))
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


SEED = None  # set by main, printed with a failure so the run can be repeated


def fail(message):
    print("crash test FAILED (seed %s): %s" % (SEED, message), file=sys.stderr)
    sys.exit(1)


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def wait_ready(port, proc, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            get("http://127.0.0.1:%d/readyz" % port)
            return True
        except OSError:
            time.sleep(0.05)
    return False


STORED = re.compile(r"stored source=(\S+) new=(\d+) updated=(\d+)")


def reported_new(logs):
    """Per source, the new items the daemon said it stored."""
    total = {}
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = STORED.search(line)
                if m:
                    total[m.group(1)] = total.get(m.group(1), 0) + int(m.group(2))
    return total


def check_store(db_path):
    """Opens the store as a fresh process would and checks its integrity; returns the connection."""
    db = sqlite3.connect(db_path)
    result = db.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        fail("integrity check: %s" % result)
    return db


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    kills = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    global SEED
    seed = SEED = int(sys.argv[3]) if len(sys.argv) > 3 else int(time.time())
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="feedfold-crash-")
    origin_port, http_port = free_port(), free_port()
    origin = Origin()
    server = serve_origin(origin, origin_port)

    config = os.path.join(work, "crash.toml")
    with open(config, "w") as f:
        f.write('[store]\nurl = "sqlite://%s/crash.db"\n\n' % work)
        f.write('[fetch]\ninterval = "10s"\nstartup_spread = "2s"\ntimeout = "5s"\n\n')
        f.write('[server]\nlisten = "127.0.0.1:%d"\n\n' % http_port)
        for k in range(SOURCES):
            f.write('[[source]]\nname = "s%02d"\nurl = "http://127.0.0.1:%d/feed/%d.xml"\n\n' % (k, origin_port, k))
        f.write('[[output]]\nname = "all"\ntitle = "All"\ndedup = "off"\nlimit = 100000\n')
    db_path = os.path.join(work, "crash.db")

    logs = []

    def start(n):
        log = os.path.join(work, "serve-%02d.log" % n)
        logs.append(log)
        env = dict(os.environ, RUST_LOG="feedfold=info")
        return subprocess.Popen([binary, "serve", "--config", config], stderr=open(log, "w"),
                                stdout=subprocess.DEVNULL, env=env)

    started = time.time()
    delays = []
    for n in range(kills):
        proc = start(n)
        if not wait_ready(http_port, proc):
            fail("run %d: the daemon did not become ready (log %s)" % (n, logs[-1]))
        delay = rng.uniform(0.2, 6.0)
        delays.append(delay)
        time.sleep(delay)
        if proc.poll() is not None:
            fail("run %d: the daemon exited on its own with %s (log %s)" % (n, proc.returncode, logs[-1]))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check_store(db_path).close()

    # The origin stops changing; the last run fetches every source once more and goes idle. An
    # item the origin served to a run killed before it committed is stored only by that fetch, so
    # the check waits for every source to be fetched by the last run: from the next whole second
    # on (`last_fetch` is in seconds, and no killed run is left to record a fetch then).
    origin.frozen = True
    final_start = int(time.time()) + 1
    time.sleep(max(0.0, final_start - time.time()))
    proc = start(kills)
    if not wait_ready(http_port, proc):
        fail("final run: the daemon did not become ready (log %s)" % logs[-1])
    deadline = time.time() + 60
    while True:
        db = check_store(db_path)
        stored = {row[0] for row in db.execute("SELECT link FROM items")}
        waiting = db.execute("SELECT count(*) FROM items WHERE story_id IS NULL").fetchone()[0]
        fetched = db.execute("SELECT count(*) FROM sources WHERE last_fetch >= ?", (final_start,)).fetchone()[0]
        db.close()
        served = json.loads(get("http://127.0.0.1:%d/feeds/all.json" % http_port))["items"]
        served_links = [item.get("url") for item in served]
        if fetched == SOURCES and waiting == 0 and sorted(served_links) == sorted(stored):
            break
        if time.time() > deadline:
            fail("outputs never matched the store: %d stored, %d served, %d waiting to be folded, %d/%d sources "
                 "fetched by the last run (log %s)" % (len(stored), len(served_links), waiting, fetched, SOURCES, logs[-1]))
        time.sleep(0.5)

    db = check_store(db_path)
    per_source = dict(db.execute("SELECT source, count(*) FROM items GROUP BY source"))
    for source, n in sorted(reported_new(logs).items()):
        if per_source.get(source, 0) < n:
            fail("source %s: the daemon reported %d new items stored, the store holds %d"
                 % (source, n, per_source.get(source, 0)))
    twice = db.execute("SELECT source, guid, count(*) FROM items GROUP BY source, guid HAVING count(*) > 1").fetchall()
    if twice:
        fail("items stored twice: %s" % twice[:5])
    unfolded = db.execute("SELECT count(*) FROM items WHERE story_id IS NULL").fetchone()[0]
    if unfolded:
        fail("%d items have no story" % unfolded)
    items = sum(per_source.values())
    # Every item the origin ever listed was stored at least once.
    expected = sum(f * NEW_PER_FETCH for f in origin.fetches)
    if items != expected:
        fail("the origin listed %d distinct items, the store holds %d" % (expected, items))
    db.close()

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("the daemon did not stop within 30 s of SIGTERM")
    if code != 0:
        fail("the daemon exited with %d after SIGTERM" % code)
    server.shutdown()
    reported = sum(reported_new(logs).values())
    print("crash test: seed %d, %d SIGKILLs after %.1f-%.1f s, %d fetches, %d items stored (%d reported), "
          "0 lost, 0 duplicated, outputs match the store, clean SIGTERM exit; %.0f s"
          % (seed, kills, min(delays), max(delays), sum(origin.fetches), items, reported, time.time() - started))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
