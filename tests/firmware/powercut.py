"""Power-cut harness for firmware/app/store.py, run on the MicroPython unix port over a RAM flash with littlefs v2.

    micropython -X heapsize=2m tests/firmware/powercut.py REPO count
    micropython -X heapsize=2m tests/firmware/powercut.py REPO cut FIRST LAST [STEP]

``count`` runs the whole workload once without a cut and prints ``writes N``: the number of block writes and erases
it makes. ``cut`` replays the workload once per k in FIRST..LAST: power goes at the k-th of them. It lands torn
(only a prefix of the block is programmed or erased, its length varies with k), every later one is lost, and
the array keeps exactly what littlefs had programmed. Then the board "reboots": a fresh VfsLfs2 is mounted over the
same array, the Store is opened (recovery), and the harness checks that
  - the cursor is the last acknowledgement that returned, or the one in flight at the cut;
  - pending() returns exactly the records whose append returned and that are after the cursor, in order, payloads
    intact (the append in flight at the cut may be there too, intact, or absent), and nothing else;
  - the recovered store takes a new record and returns it.
It prints ``ok k`` or ``FAIL k reason`` per k and a last line ``done PASSED FAILED``.
"""
import sys
import vfs

BLOCK = 4096
NBLOCKS = 64
READINGS = 200
SEGMENT = 512
BUDGET = 64 * 1024
MOUNT = "/flash"
ROOT = MOUNT + "/outbox"


class PowerCut(Exception):
    pass


class Flash:
    """Block device over a bytearray (littlefs extended interface: offsets inside a block)."""

    def __init__(self, data, cut_at=0):
        self.data = data
        self.cut_at = cut_at
        self.writes = 0
        self.dead = False
        self.erased = b"\xff" * BLOCK

    def readblocks(self, block, buf, off=0):
        if self.dead:
            return -5  # EIO without allocating: finalisers of the dead run's files may land here
        a = block * BLOCK + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, block, buf, off=None):
        if self.dead:
            return -5
        a = block * BLOCK + (off or 0)
        self.writes += 1
        if self.writes == self.cut_at:
            # Torn: 0/8 .. 7/8 of the block reaches the flash, depending on k.
            keep = (len(buf) * (self.cut_at % 8)) // 8
            self.data[a:a + keep] = memoryview(buf)[:keep]
            self.dead = True
            raise PowerCut()
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return NBLOCKS
        if op == 5:
            return BLOCK
        if op == 6:
            if self.dead:
                return -5
            a = arg * BLOCK
            self.writes += 1
            if self.writes == self.cut_at:
                # A torn erase: a prefix of the block is erased, the rest keeps its old bytes.
                keep = (BLOCK * (self.cut_at % 8)) // 8
                self.data[a:a + keep] = memoryview(self.erased)[:keep]
                self.dead = True
                return -5
            self.data[a:a + BLOCK] = self.erased
            return 0
        return 0


def payload(i):
    # Varying lengths (13..45 bytes) so records straddle littlefs program units differently.
    return b"r%05d:" % i + b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"[:(i * 7) % 33 + 6]


def blank():
    data = bytearray(BLOCK * NBLOCKS)
    vfs.VfsLfs2.mkfs(Flash(data))
    return data


def unmount():
    try:
        vfs.umount(MOUNT)
    except Exception:
        pass


def workload(Store, dev, log):
    """The run: READINGS appends, a lagging cumulative ack every 10 readings. log records what returned."""
    fs = vfs.VfsLfs2(dev)
    vfs.mount(fs, MOUNT)
    s = Store(ROOT, budget_bytes=BUDGET, segment_bytes=SEGMENT)
    for i in range(1, READINGS + 1):
        log["append"] = i
        if not s.append(i, payload(i)):
            raise AssertionError("append refused")
        log["stored"].append(i)
        log["append"] = None
        if i % 10 == 0:
            log["ack"] = i - 5
            s.ack(i - 5)
            log["acked"] = i - 5
            log["ack"] = None
    return s


def check(Store, data, log):
    dev = Flash(data)
    vfs.mount(vfs.VfsLfs2(dev), MOUNT)
    try:
        s = Store(ROOT, budget_bytes=BUDGET, segment_bytes=SEGMENT)
        cur = s.cursor
        if cur != log["acked"] and cur != log["ack"]:
            return "cursor %d, acked %d, in flight %r" % (cur, log["acked"], log["ack"])
        want = [i for i in log["stored"] if i > cur]
        got = s.pending(100000)
        seqs = [q for q, _ in got]
        extra = log["append"]
        if seqs != want and not (extra is not None and seqs == want + [extra]):
            return "pending %r.., want %r.. (in flight %r)" % (seqs[:8], want[:8], extra)
        for q, p in got:
            if p != payload(q):
                return "record %d corrupt: %r" % (q, p)
        nxt = (seqs[-1] if seqs else max(cur, 0)) + 1000
        if not s.append(nxt, b"after") or s.pending(100000)[-1] != (nxt, b"after"):
            return "no append after recovery"
        return None
    finally:
        unmount()


def main():
    sys.path.insert(0, sys.argv[1] + "/firmware")
    from app.store import Store
    mode = sys.argv[2]
    base = blank()
    if mode == "count":
        dev = Flash(bytearray(base))
        log = {"stored": [], "acked": -1, "ack": None, "append": None}
        s = workload(Store, dev, log)
        print("stats", s.stats())
        unmount()
        print("writes", dev.writes)
        return
    first, last = int(sys.argv[3]), int(sys.argv[4])
    step = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    passed = failed = 0
    for k in range(first, last + 1, step):
        data = bytearray(base)
        dev = Flash(data, k)
        log = {"stored": [], "acked": -1, "ack": None, "append": None}
        try:
            workload(Store, dev, log)
        except Exception as e:  # PowerCut, or littlefs's OSError wrapping it
            if not dev.dead:
                raise
        unmount()
        if not dev.dead:
            print("FAIL", k, "no cut: the run makes fewer writes")
            failed += 1
            continue
        try:
            err = check(Store, data, log)
        except Exception as e:
            err = "recovery raised %r" % (e,)
        if err:
            failed += 1
            print("FAIL", k, err)
        else:
            passed += 1
            print("ok", k, len(log["stored"]))
    print("done", passed, failed)


main()
