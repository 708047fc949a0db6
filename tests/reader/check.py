#!/usr/bin/env python3
"""Real clients against a running `feedfold serve`: newsboat reads the RSS and Atom formats of a
served output, then several outputs that share stories subscribed together in one cache (every
story must stay in each: entry ids are unique per output), and headless Chromium loads the
index page, whose script, copy buttons, localised times, failing-first source list and subscribe
links are then checked. newsboat cannot read JSON Feed at all (newsboat issue #426, open), so every format is
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

# A source of the demo config that cannot be read.
FAILING = "missing-desk"
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
    # One source that fails, for the index page's failing-first list.
    demo += f'\n[[source]]\nname = "{FAILING}"\nurl = "{work}/no-such-feed.xml"\n'
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


class Page(html.parser.HTMLParser):
    """What the checks need of the index page's DOM: subscribe links, alternates, copy buttons,
    times, scripts and the order of the source rows."""

    def __init__(self):
        super().__init__()
        self.alternate, self.anchors = [], []
        self.buttons, self.hidden_buttons, self.scripts = 0, 0, 0
        self.times, self.rows = [], []
        self._time = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "link" and a.get("rel") == "alternate":
            self.alternate.append((a.get("href"), a.get("type")))
        if tag == "a" and "sub" in classes:
            self.anchors.append((a.get("href"), a.get("type")))
        if tag == "button" and "copy" in classes:
            if "hidden" in a:
                self.hidden_buttons += 1
            else:
                self.buttons += 1
        if tag == "script":
            self.scripts += 1
        if tag == "time":
            self._time = [a.get("datetime"), a.get("title"), ""]
        if tag == "tr" and (a.get("id") or "").startswith("source-"):
            self.rows.append(a["id"][len("source-"):])

    def handle_data(self, data):
        if self._time is not None:
            self._time[2] += data

    def handle_endtag(self, tag):
        if tag == "time" and self._time is not None:
            self.times.append(tuple(self._time))
            self._time = None


# Chromium runs in this zone and language, so a time the page localised differs from its UTC
# text in a way the check can predict.
BROWSER_TZ, BROWSER_OFFSET, BROWSER_LANG = "Asia/Shanghai", 8, "zh-CN"


def chromium_run(chromium, profile, work, args):
    """Runs headless Chromium with its log on stderr; returns (stdout, console lines)."""
    run = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--accept-lang={BROWSER_LANG}",
                          "--enable-logging=stderr", "--v=0", *args],
                         capture_output=True, text=True, timeout=120, cwd=work,
                         env={**os.environ, "TZ": BROWSER_TZ})
    # Every console message (console.*, an uncaught exception, a CSP violation) is logged as
    # `INFO:CONSOLE:LINE] "message", source: URL (LINE)`.
    return run.stdout, [line for line in run.stderr.splitlines() if ":CONSOLE" in line]


def check_chromium(base, work, out_dir, failing_source):
    """Headless Chromium loads the index page: it renders (a screenshot, for a person to look
    at), its script runs under the page's Content-Security-Policy without a console message,
    shows a copy button per format of every output and rewrites every time in the browser's
    zone; failing sources come first; every subscribe link answers with its type."""
    chromium = next((c for c in ("chromium", "chromium-browser") if subprocess.run(
        ["sh", "-c", f"command -v {c}"], capture_output=True).returncode == 0), None)
    if not chromium:
        fail("chromium is not installed")
    profile = tempfile.mkdtemp(dir=work)
    shot = os.path.join(out_dir, "index.png")
    if os.path.exists(shot):
        os.remove(shot)
    _, console = chromium_run(chromium, profile, work, ["--window-size=1280,3300", f"--screenshot={shot}", base + "/"])
    if not os.path.exists(shot) or os.path.getsize(shot) < 1000:
        fail("no screenshot of the index page")
    dom, more = chromium_run(chromium, profile, work, ["--dump-dom", base + "/"])
    console += more
    with open(os.path.join(out_dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(dom)
    if console:
        fail("the index page wrote to the browser console:\n" + "\n".join(console))
    page = Page()
    page.feed(dom)
    if not page.anchors or not page.alternate:
        fail(f"the rendered page has no subscribe links ({len(page.anchors)}) or alternates ({len(page.alternate)})")
    outputs = len(page.anchors) // 3
    if page.buttons != 3 * outputs or page.hidden_buttons:
        fail(f"{page.buttons} copy buttons shown and {page.hidden_buttons} hidden, want one per format of "
             f"{outputs} outputs: the page's script did not run")
    if page.scripts != 1:
        fail(f"{page.scripts} scripts in the page, want its own only")
    if not page.times:
        fail("no times on the index page")
    for datetime, utc_text, text in page.times:
        # The script keeps the UTC text as the title and writes the time in the browser's zone.
        t = time.strptime(datetime, "%Y-%m-%dT%H:%M:%SZ")
        hour, minute = (t.tm_hour + BROWSER_OFFSET) % 24, t.tm_min
        if "UTC" in text or utc_text is None or "UTC" not in utc_text or \
                not re.search(rf"(?<!\d)0?{hour}:{minute:02d}(?!\d)", text):
            fail(f"time {datetime} not localised to {BROWSER_TZ}: {text!r} (title {utc_text!r})")
    if page.rows[:1] != [failing_source]:
        fail(f"the failing source {failing_source} is not listed first: {page.rows}")
    for href, mime in sorted(set(page.anchors + page.alternate)):
        status, headers, body = get(base + href)
        ctype = headers.get("Content-Type", "").split(";")[0]
        if status != 200 or ctype != mime or not body:
            fail(f"subscribe link {href}: HTTP {status}, {ctype} (want {mime})")
    print(f"  chromium: index page rendered ({os.path.getsize(shot)} byte screenshot), no console message, "
          f"{page.buttons} copy buttons, {len(page.times)} times in {BROWSER_TZ}, failing source first, "
          f"{len(page.anchors)} subscribe links and {len(page.alternate)} alternates all answer with their type")


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
            check_chromium(base, work, out_dir, FAILING)
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
