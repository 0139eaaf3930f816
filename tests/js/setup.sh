#!/usr/bin/env bash
# Install the official MAM libraries (pinned in package-lock.json) used as test oracles. Idempotent: runs `npm ci`
# only when node_modules is missing or was installed from another lock file. Needs node >= 18 and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
stamp=node_modules/.iota-edge-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "tests/js: node_modules up to date"
    exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts  # no dependency needs an install script
echo "$want" > "$stamp"
