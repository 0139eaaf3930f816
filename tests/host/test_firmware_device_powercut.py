"""Bar test: a power cut at every single block write of the device pipeline over 200 readings (50 signed batches),
then a reboot on the flash as it was (tests/firmware/device_powercut.py on the MicroPython unix port, littlefs on a
RAM flash). Every record whose append returned comes back byte for byte, the cursor is consistent, no leaf or seq
reserved before the cut is ever used again; and every record the device stored verifies at the gateway
(iota_edge.gateway.verify.Verifier: MAM signature, stream position, signed seq).
"""
import os
import subprocess

import pytest

from iota_edge import wire
from iota_edge.device import registry_entry
from iota_edge.gateway.verify import Registry, Verifier

pytestmark = pytest.mark.micropython
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = "DEVICE9POWER9CUT" + "9" * 65


def test_power_cut_at_every_block_write_over_200_readings(micropython):
    out = subprocess.run([micropython, "-X", "heapsize=64m", os.path.join(ROOT, "tests/firmware/device_powercut.py"),
                          ROOT, "200", "1"], capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stderr[-3000:]
    assert not [l for l in lines if l.startswith("FAIL")][:5]
    head = lines[0].split()
    writes = int(head[1])
    assert head[0] == "writes" and writes > 1500 and int(head[3]) == 50      # 200 readings in 50 batches
    done = lines[-1].split()
    assert done == ["done", str(writes), "0"]                                # every write point checked, none failed
    verifier = Verifier(Registry({"cut-1": registry_entry({"seed": SEED, "channel": {"security": 1, "depth": 3}})}))
    leaves = []
    for line in lines:
        if line.startswith("UP "):
            up = wire.decode(bytes.fromhex(line[3:]))
            res = verifier.verify(up)                                        # raises Rejected on any bad record
            leaves.append((up.root, res.index))
    assert len(leaves) == 50 and len(set(leaves)) == 50
