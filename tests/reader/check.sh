#!/usr/bin/env bash
# Real feed reader and browser checks of `feedfold serve` (run by .ci/run after the tests):
# installs newsboat and Chromium from Debian if missing, and @extractus/feed-extractor from npm
# (for the JSON Feed that newsboat cannot read) under target/reader/, then runs
# tests/reader/check.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v newsboat >/dev/null || missing+=(newsboat)
command -v chromium >/dev/null || missing+=(chromium)
# A CJK font, so the screenshot shows the Chinese names rather than boxes.
fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
NODE_DIR=target/reader/node
if [ ! -d "$NODE_DIR/node_modules/@extractus/feed-extractor" ]; then
    mkdir -p "$NODE_DIR"
    npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" @extractus/feed-extractor@7.2.1 >/dev/null
fi
cargo build --locked --bin feedfold
python3 tests/reader/check.py target/debug/feedfold target/reader "$NODE_DIR"
