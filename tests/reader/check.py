#!/usr/bin/env python3
"""Real clients against a running `feedfold serve`: newsboat reads the RSS and Atom formats of a
served output, then several outputs that share stories subscribed together in one cache (every
story must stay in each: entry ids are unique per output), and headless Chromium loads the
index page, whose subscribe links are then checked. newsboat cannot read JSON Feed at all (newsboat issue #426, open), so every format is
also read by @extractus/feed-extractor (Node), which reads JSON Feed too, and must give the same
entries.

Usage: tests/reader/check.py FEEDFOLD_BINARY OUT_DIR NODE_MODULES_PARENT
Starts the daemon on the demo feeds (config/demo/, a store in a temporary folder), waits for
every source, runs the clients, stops the daemon with SIGTERM and checks it exits 0.
Writes OUT_DIR/index.png (the page's screenshot) and OUT_DIR/index.html (its DOM).
"""
import html.parser
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic", "--hide-scrollbars"]


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
        return r.status, r.headers, r.read()


def start_daemon(binary, work):
    demo = open(os.path.join(ROOT, "config", "demo.toml"), encoding="utf-8").read()
    demo = demo.replace('url = "sqlite://demo.db"', f'url = "sqlite://{work}/reader.db"')
    demo = re.sub(r'url = "demo/', f'url = "{ROOT}/config/demo/', demo)
    demo = demo.replace("[publish]", "[fetch]\nstartup_spread = 0\n\n[publish]", 1)
    config = os.path.join(work, "reader.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(demo)
    log = open(os.path.join(work, "serve.log"), "w+", encoding="utf-8")
    proc = subprocess.Popen([binary, "serve", "--config", config, "--listen", "127.0.0.1:0"],
                            stderr=log, env={**os.environ, "RUST_LOG": "info"})
    base = None
    for _ in range(200):
        time.sleep(0.1)
        log.seek(0)
        m = re.search(r"serving on (http://[0-9.:]+)/", log.read())
        if m:
            base = m.group(1)
            break
    if not base:
        proc.kill()
        fail("the daemon did not say where it listens")
    sources = len(re.findall(r"^\[\[source\]\]", demo, re.M))
    for _ in range(200):
        metrics = get(base + "/metrics")[2].decode()
        done = sum(int(float(v)) for v in re.findall(r'^feedfold_fetches_total\{[^}]*\} (\S+)', metrics, re.M))
        if done >= sources and "feedfold_output_renders_total" in metrics:
            break
        time.sleep(0.1)
    else:
        fail(f"the daemon did not fetch its {sources} sources")
    time.sleep(1.0)  # the folder renders a moment after the last fetch
    return proc, base, log


def newsboat_reload(urls, cache, work):
    """newsboat subscribed to `urls` with its cache in `cache` reloads them all; returns each
    feed's titles as its cache holds them."""
    url_file = os.path.join(work, "urls")
    with open(url_file, "w") as f:
        f.write("".join(url + "\n" for url in urls))
    conf = os.path.join(work, "newsboat.conf")
    open(conf, "w").close()
    run = subprocess.run(["newsboat", "-u", url_file, "-c", cache, "-C", conf, "-x", "reload"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": work, "TERM": "dumb"})
    got = {url: [] for url in urls}
    if os.path.exists(cache):
        db = sqlite3.connect(cache)
        for url in urls:
            got[url] = sorted(r[0] for r in db.execute("SELECT title FROM rss_item WHERE feedurl = ?", (url,)))
        db.close()
    note = f" (exit {run.returncode}: {run.stderr.strip()[:200]})" if run.returncode else ""
    return got, note


def json_titles(url):
    return sorted(i["title"] for i in json.loads(get(url)[2])["items"])


# Outputs of config/demo.toml that share stories (and an ad-hoc view of one): subscribed
# together, every story must be in each of them, which needs ids unique per output.
SHARED = ["all.rss", "shaanxi.atom", "shaanxi-local.rss", "everything.atom", "epidemic.rss",
          "all.atom?region=610000"]


def check_newsboat(base, work):
    """newsboat reloads the RSS and Atom formats of the `all` output, each in a cache of its
    own, and then several outputs that share stories in ONE cache (a reader subscribed to all
    of them); every cache must hold every entry of each feed. Returns (label, got, want)."""
    checks = []
    titles = json_titles(base + "/feeds/all.json")
    for ext in ("rss", "atom"):
        url = f"{base}/feeds/all.{ext}"
        got, note = newsboat_reload([url], os.path.join(work, f"newsboat-{ext}.db"), work)
        print(f"  newsboat {url}: {len(got[url])} of {len(titles)} entries{note}")
        checks.append((f"newsboat {url}", got[url], titles))
    urls = [f"{base}/feeds/{feed}" for feed in SHARED]
    got, note = newsboat_reload(urls, os.path.join(work, "newsboat-shared.db"), work)
    for feed, url in zip(SHARED, urls):
        stem, _, rest = feed.partition(".")
        query = rest.partition("?")[2]
        want = json_titles(f"{base}/feeds/{stem}.json" + (f"?{query}" if query else ""))
        print(f"  newsboat, one cache for {len(urls)} feeds, {url}: {len(got[url])} of {len(want)} entries{note}")
        checks.append((f"newsboat (one cache) {url}", got[url], want))
    if sum(len(w) for _, _, w in checks[2:]) <= len(set(t for _, _, w in checks[2:] for t in w)):
        fail("the shared-cache feeds share no story: the check would prove nothing")
    return titles, checks


def check_feed_extractor(base, node_dir):
    """@extractus/feed-extractor reads every format, JSON Feed included."""
    script = os.path.join(node_dir, "read.mjs")
    with open(os.path.join(ROOT, "tests", "reader", "read.mjs"), encoding="utf-8") as src, \
            open(script, "w", encoding="utf-8") as dst:
        dst.write(src.read())
    readable = {}
    for ext in ("rss", "atom", "json"):
        url = f"{base}/feeds/all.{ext}"
        run = subprocess.run(["node", script, url], capture_output=True, text=True, timeout=60, cwd=node_dir)
        got = sorted(json.loads(run.stdout)) if run.returncode == 0 else []
        readable[f"feed-extractor {url}"] = got
        print(f"  feed-extractor {url}: {len(got)} entries" + (f" ({run.stderr.strip()[:200]})" if run.returncode else ""))
    return readable


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.alternate, self.anchors = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "alternate":
            self.alternate.append((a.get("href"), a.get("type")))
        if tag == "a" and "sub" in (a.get("class") or "").split():
            self.anchors.append((a.get("href"), a.get("type")))


def check_chromium(base, work, out_dir):
    chromium = next((c for c in ("chromium", "chromium-browser") if subprocess.run(
        ["sh", "-c", f"command -v {c}"], capture_output=True).returncode == 0), None)
    if not chromium:
        fail("chromium is not installed")
    profile = tempfile.mkdtemp(dir=work)
    shot = os.path.join(out_dir, "index.png")
    if os.path.exists(shot):
        os.remove(shot)
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1000",
                    f"--screenshot={shot}", base + "/"], capture_output=True, timeout=120, cwd=work)
    if not os.path.exists(shot) or os.path.getsize(shot) < 1000:
        fail("no screenshot of the index page")
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", base + "/"],
                         capture_output=True, text=True, timeout=120, cwd=work).stdout
    with open(os.path.join(out_dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(dom)
    links = Links()
    links.feed(dom)
    if not links.anchors or not links.alternate:
        fail(f"the rendered page has no subscribe links ({len(links.anchors)}) or alternates ({len(links.alternate)})")
    if "<script" in dom:
        fail("the index page uses JavaScript")
    for href, mime in sorted(set(links.anchors + links.alternate)):
        status, headers, body = get(base + href)
        ctype = headers.get("Content-Type", "").split(";")[0]
        if status != 200 or ctype != mime or not body:
            fail(f"subscribe link {href}: HTTP {status}, {ctype} (want {mime})")
    print(f"  chromium: index page rendered ({os.path.getsize(shot)} byte screenshot), "
          f"{len(links.anchors)} subscribe links and {len(links.alternate)} alternates all answer with their type")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary, out_dir, node_dir = (os.path.abspath(a) for a in sys.argv[1:4])
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        proc, base, log = start_daemon(binary, work)
        try:
            titles, checks = check_newsboat(base, work)
            readable = check_feed_extractor(base, node_dir)
            check_chromium(base, work, out_dir)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        if code != 0:
            log.seek(0)
            fail(f"the daemon exited {code} on SIGTERM:\n{log.read()[-2000:]}")
        checks += [(label, got, titles) for label, got in readable.items()]
        for label, got, want in checks:
            if got != want:
                fail(f"{label} read as {got}, want {want}")
    print("reader checks passed")


if __name__ == "__main__":
    main()
