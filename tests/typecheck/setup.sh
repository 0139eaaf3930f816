#!/usr/bin/env bash
# The firmware's type check against the MicroPython board stubs (tests/host/test_firmware_typecheck.py):
# - tests/typecheck/node_modules: pyright, pinned in package-lock.json (npm ci)
# - .typecheck/<port>/: the port's stubs from PyPI, pinned below, installed with pip --target (the folder is the
#   typeshedPath and stubPath of tests/typecheck/pyrightconfig.<port>.json: the stubs replace the CPython stdlib)
# Idempotent: reinstalls only when the lock file or the pins change. Usage: bash tests/typecheck/setup.sh [python]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python=${1:-$root/.venv/bin/python}
STDLIB_STUBS="micropython-stdlib-stubs==1.29.0.post2"
declare -A PORT_STUBS=([esp32]="micropython-esp32-stubs==1.29.0.post1" [rp2]="micropython-rp2-stubs==1.29.0.post1")

cd "$here"
stamp=node_modules/.iota-edge-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "tests/typecheck: pyright up to date"
else
    npm ci --no-audit --no-fund --ignore-scripts   # pyright ships its bundle in the package: no install script
    echo "$want" > "$stamp"
fi

for port in esp32 rp2; do
    dir="$root/.typecheck/$port"
    pins="${PORT_STUBS[$port]} $STDLIB_STUBS"
    if [ -f "$dir/.pins" ] && [ "$(cat "$dir/.pins")" = "$pins" ]; then
        echo "tests/typecheck: $port stubs up to date"
        continue
    fi
    rm -rf "$dir"
    # --no-deps: the two pins are the whole closure (the port stubs depend only on the stdlib stubs)
    "$python" -m pip install -q --disable-pip-version-check --no-deps --target "$dir" $pins
    echo "$pins" > "$dir/.pins"
done
