#!/usr/bin/env bash
# tests/oracle/pyota-venv.sh DIR
#
# Build a Python virtual environment in DIR holding PyOTA 2.1.0 (package "pyota" on PyPI, the official
# legacy IOTA library for Python). The project uses it only as a test ORACLE: tests/vectors/generate.py runs
# under it to produce the known-answer JSON files, and tests may use it for optional cross-checks.
# Nothing in iota_edge/ imports it.
#
#   bash tests/oracle/pyota-venv.sh .oracle/pyota        # .oracle/ is git-ignored
#   .oracle/pyota/bin/python tests/vectors/generate.py
#
# Running it again on an existing DIR re-installs into it (idempotent).
#
# PyOTA 2.1.0 (2019) does not install cleanly on a current Python, so this script works around three things:
#   * PyOTA depends on "pysha3" (Keccak for Kerl), whose C extension no longer compiles on Python >= 3.10.
#     "safe-pysha3" is a maintained fork that ships the same importable module name, `sha3`. We install
#     pyota with --no-deps, install safe-pysha3 ourselves, and drop an empty "pysha3" dist-info record so
#     that pkg_resources-based requirement checks in PyOTA's entry points find a "pysha3" distribution.
#   * PyOTA's filters need the 2.x line of phx-filters and a phx-class-registry older than 4.
#   * pkg_resources comes from setuptools, which recent venvs no longer seed by default.
set -euo pipefail

target=${1:-}
if [[ -z "$target" ]]; then
    echo "usage: $0 DIR   (creates a PyOTA 2.1.0 virtualenv in DIR)" >&2
    exit 2
fi
python_bin=${PYTHON:-python3}

"$python_bin" -m venv "$target"
pip=("$target/bin/python" -m pip install --quiet --disable-pip-version-check)

# Metadata-only stand-in for pysha3 (the real module comes from safe-pysha3); written first so
# that pip sees the requirement as met.
purelib=$("$target/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
stub="$purelib/pysha3-1.0.2.dist-info"
mkdir -p "$stub"
cat > "$stub/METADATA" <<'META'
Metadata-Version: 2.1
Name: pysha3
Version: 1.0.2
Summary: placeholder record; the sha3 module is provided by safe-pysha3
META
: > "$stub/RECORD"
echo "pip" > "$stub/INSTALLER"

"${pip[@]}" --no-deps "pyota==2.1.0"
"${pip[@]}" "safe-pysha3" "phx-filters==2.0.2" "phx-class-registry<4" "requests" "six" "setuptools"

# Smoke test against published known answers (PyOTA's own test suite / IOTA docs).
"$target/bin/python" - <<'PY'
import iota
from iota.crypto.kerl import Kerl
from iota.crypto.addresses import AddressGenerator
from iota.crypto.types import Seed
from iota import TryteString

src = "EMIDYNHBWMBCXVDEFOFWINXTERALUKYYPPHKP9JJFGJEIUY9MUDVNFZHMMWZUYUSWAIOWEVTHNWMHANBH"
k = Kerl()
k.absorb(TryteString(src).as_trits())
out = [0] * 243
k.squeeze(out)
got = str(TryteString.from_trits(out))
want = "EJEAOOZYSAWFPZQESYDHZCGYNSTWXUMVJOVDWUNZJXDGWCLUFGIMZRMGCAZGKNPLBRLGUNYWKLJTYEAQX"
assert got == want, ("Kerl known answer failed", got)

seed = Seed(b"TESTVALUE9DONTUSEINPRODUCTION999999GFDDCPFIIEHBCWFN9KHRBEIHHREFCKBVGUGEDXCFHDFPAL")
addr = AddressGenerator(seed, security_level=2).get_addresses(0, 1)[0]
want = "DLEIS9XU9V9T9OURAKDUSQWBQEYFGJLRPRVEWKN9SSUGIHBEIPBPEWISSAURGTQKWKWNHXGCBQTWNOGIY"
assert str(addr) == want, ("address known answer failed", str(addr))
print("PyOTA %s oracle OK in %s" % (getattr(iota, "__version__", "2.1.0"), __import__("sys").prefix))
PY
