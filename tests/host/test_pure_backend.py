"""The pure-Python backend passes the whole portable suite on CPython too, even where the C kernel is built
(IOTA_EDGE_PURE=1 forces it), so both backends are held to every vector."""
import os
import subprocess
import sys


def test_portable_suite_on_the_pure_backend(root):
    out = subprocess.run([sys.executable, os.path.join(root, "tests/portable/run.py")], capture_output=True,
                         text=True, timeout=1200, env=dict(os.environ, IOTA_EDGE_PURE="1"))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    passed, failed = [int(w) for w in out.stdout.strip().splitlines()[-1].replace(",", "").split() if w.isdigit()]
    assert failed == 0 and passed >= 30
