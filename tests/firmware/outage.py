"""Outage run for firmware/app/store.py on the MicroPython unix port, over a RAM flash with littlefs v2.

    micropython -X heapsize=1m tests/firmware/outage.py REPO [READINGS]     # the 512 KiB flash is on the heap

The uplink is down for READINGS (default 1,000) readings: all are appended. Then it returns: pending() batches are
"sent" and acknowledged in order until nothing is left. Prints the figures the test checks and the README quotes:
``appended N S`` (seconds), ``delivered N ordered``, ``peak BYTES BLOCKS`` and ``after BYTES BLOCKS SEGMENTS``
(store bytes, and littlefs blocks in use beyond a freshly formatted filesystem), ``overhead BYTES``.
"""
import os
import sys
import time
import vfs

sys.path.insert(0, sys.argv[1] + "/firmware")
from app.store import Store, OVERHEAD  # noqa: E402

BLOCK = 4096
NBLOCKS = 128


class Flash:
    def __init__(self, n):
        self.data = bytearray(BLOCK * n)

    def readblocks(self, block, buf, off=0):
        a = block * BLOCK + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, block, buf, off=None):
        a = block * BLOCK + (off or 0)
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return NBLOCKS
        if op == 5:
            return BLOCK
        return 0


def used_blocks():
    s = os.statvfs("/flash")
    return s[2] - s[3]


n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
dev = Flash(NBLOCKS)
vfs.VfsLfs2.mkfs(dev)
fs = vfs.VfsLfs2(dev)
vfs.mount(fs, "/flash")
base = used_blocks()
s = Store("/flash/outbox", budget_bytes=256 * 1024, segment_bytes=4096)
t0 = time.ticks_ms()
for i in range(1, n + 1):
    assert s.append(i, b'{"t":%d,"v":%d}' % (1700000000 + i, i * 37 % 1000))
t = time.ticks_diff(time.ticks_ms(), t0) / 1000
st = s.stats()
print("appended", st["records"], t)
print("peak", st["bytes"], used_blocks() - base)
expect = 1
while True:
    batch = s.pending(50)
    if not batch:
        break
    for seq, p in batch:
        assert seq == expect, (seq, expect)
        assert p == b'{"t":%d,"v":%d}' % (1700000000 + seq, seq * 37 % 1000)
        expect += 1
    s.ack(batch[-1][0])
print("delivered", expect - 1, "ordered")
st = s.stats()
print("after", st["bytes"], used_blocks() - base, st["segments"])
print("overhead", OVERHEAD)
