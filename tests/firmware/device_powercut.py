"""Power cut at every block write of the whole device pipeline (sample, batch, reserve the leaf and the seq on flash,
sign, append, send, ack), on littlefs over a RAM flash, on the MicroPython unix port.

    micropython -X heapsize=64m tests/firmware/device_powercut.py REPO READINGS [STEP]

The workload runs once with a journaling flash: every block write and erase is recorded, with what had returned
before it (appends with their exact bytes, acks, state saves with the leaf and seq they reserve). Then, for every
k (every STEP-th, default 1), the flash image "power cut at write k" is rebuilt from the journal (writes before k
complete, write k torn: 0/8..7/8 of it lands, later ones lost) and the board reboots on it: littlefs is mounted
afresh and the device's Pipeline opens the store and the device state (the firmware's own boot path). Checks:
  - pending() = exactly the records whose append returned and that are after the cursor, byte for byte, in order
    (the append in flight may be there too, intact); the cursor is the last returned ack or the one in flight;
  - the next leaf is above every leaf whose reservation reached flash, the next seq above every reserved seq
    (so no one-time key is ever signed twice and no seq reused);
  - every 20th reboot also seals a new message on the recovered device and checks the leaf it signs with.
Prints ``writes N``, ``FAIL k reason`` lines, ``UP <hex>`` for every record the workload stored (the host verifies
each with the gateway Verifier) and ``done CHECKED FAILED``.
"""
import sys
import vfs

REPO = sys.argv[1]
READINGS = int(sys.argv[2])
STEP = int(sys.argv[3]) if len(sys.argv) > 3 else 1
sys.path.insert(0, REPO)
sys.path.insert(0, REPO + "/firmware")

from app.config import from_dict  # noqa: E402
from app.pipeline import Pipeline  # noqa: E402
from app.sensors import SimEnergy  # noqa: E402
from app import pipeline as _pl  # noqa: E402

BLOCK = 4096
NBLOCKS = 96
SEED = "DEVICE9POWER9CUT" + "9" * 65
RAW = {"device": "cut-1", "board": "UNIX", "seed": SEED, "channel": {"security": 1, "depth": 3},
       "uplink": {"url": "mqtt://cut-1:pw@127.0.0.1:1", "window": 3, "ack_timeout_s": 1000},
       "sampling": {"interval_s": 1, "batch_max": 4, "batch_age_s": 1000},
       "store": {"budget_bytes": 160000, "segment_bytes": 4096}, "heartbeat_s": 100000,
       "sensors": [{"driver": "sim_energy", "name": "p", "unit": "W"}]}


class Flash:
    def __init__(self, data, journal=None):
        self.data = data
        self.journal = journal
        self.writes = 0

    def readblocks(self, block, buf, off=0):
        a = block * BLOCK + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, block, buf, off=None):
        a = block * BLOCK + (off or 0)
        self.writes += 1
        if self.journal is not None:
            self.journal.append((a, bytes(buf)))
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return NBLOCKS
        if op == 5:
            return BLOCK
        if op == 6:
            self.writes += 1
            if self.journal is not None:
                self.journal.append((arg * BLOCK, None))
            self.data[arg * BLOCK:(arg + 1) * BLOCK] = b"\xff" * BLOCK
        return 0


def apply(data, op, torn_k=None):
    a, buf = op
    if buf is None:
        n = BLOCK if torn_k is None else (BLOCK * (torn_k % 8)) // 8
        data[a:a + n] = b"\xff" * n
    else:
        n = len(buf) if torn_k is None else (len(buf) * (torn_k % 8)) // 8
        data[a:a + n] = buf[:n]


class Clock:
    def __init__(self):
        self.t = 0

    def ms(self):
        return self.t

    def s(self):
        return 1700000000 + self.t // 1000


class Uplink:
    """Takes every record; the test acks the oldest sent ones two steps later (a lagging gateway)."""

    def __init__(self):
        self.sent = []

    def ready(self):
        return True

    def send_up(self, data):
        from iota_edge import wire
        self.sent.append(wire.decode(data).seq)
        return True

    def send_hb(self, data):
        pass

    def holding(self):
        return False

    def reconnects(self):
        return 0


def mount(flash):
    try:
        vfs.umount("/flash")
    except OSError:
        pass
    vfs.mount(vfs.VfsLfs2(flash), "/flash")


def boot(flash, clock, uplink=None, max_readings=None):
    mount(flash)
    cfg = from_dict(dict(RAW), [REPO + "/boards"])
    return Pipeline(cfg, [SimEnergy("p", "W", 800, 1)], uplink, None, clock.ms, clock.s, max_readings)


# ---- the workload, once, journaled ----------------------------------------------------------------------------
image0 = bytearray(b"\xff" * (BLOCK * NBLOCKS))
vfs.VfsLfs2.mkfs(Flash(image0))
journal = []
flash = Flash(bytearray(image0), journal)
clock = Clock()
up = Uplink()
p = boot(flash, clock, up, READINGS)
appends = []        # (writes when it returned, seq, bytes)
acks = []           # (writes when called, writes when returned, seq)
saves = []          # (writes when returned, leaf reserved, seq reserved)
keys_signed = []

_append, _ack = p.store.append, p.store.ack


def append(seq, payload):
    ok = _append(seq, payload)
    if ok:
        appends.append((flash.writes, seq, bytes(payload)))
    return ok


def ack(seq):
    w0 = flash.writes
    _ack(seq)
    acks.append((w0, flash.writes, seq))


_save = p.state.save


def save(state):
    _save(state)
    saves.append((flash.writes, state["start"] + state["index"] - 1, p.state.next_seq - 1))


p.store.append, p.store.ack, p.state.save = append, ack, save
while p.producing() or p.samples or p.store.stats()["pending"]:
    clock.t += 1000
    p.step()
    while len(up.sent) > 2:
        p.on_ack(up.sent.pop(0), "stored")
    if not p.producing() and not p.samples:
        while up.sent:
            p.on_ack(up.sent.pop(0), "stored")
total = flash.writes
print("writes", total, "appends", len(appends), "acks", len(acks))
for _, seq, data in appends:
    print("UP", data.hex())

# ---- every cut point ------------------------------------------------------------------------------------------
base = bytearray(image0)
checked = failed = 0


def fail(k, why):
    global failed
    failed += 1
    print("FAIL", k, why)


for k in range(1, total + 1):
    if (k - 1) % STEP == 0:
        img = bytearray(base)
        apply(img, journal[k - 1], k)
        c = Clock()
        c.t = 10 ** 9
        try:
            q = boot(Flash(img), c, None, 1)
        except Exception as e:
            fail(k, "boot raised %r" % (e,))
            apply(base, journal[k - 1])
            continue
        checked += 1
        done_acks = [s for (w0, w1, s) in acks if w1 < k]
        flying_ack = [s for (w0, w1, s) in acks if w0 < k <= w1]
        cur = q.store.cursor
        lo = done_acks[-1] if done_acks else -1
        if not (cur == lo or (flying_ack and cur == flying_ack[0])):
            fail(k, "cursor %d, expected %d or the in-flight %r" % (cur, lo, flying_ack))
        pend = q.store.pending(10000)
        want = [(s, d) for (w, s, d) in appends if w < k and s > cur]
        maybe = [(s, d) for (w, s, d) in appends if w >= k and s > cur][:1]
        if pend != want and pend != want + maybe:
            fail(k, "pending %r, expected %r (+ in flight %r)" % ([s for s, _ in pend], [s for s, _ in want],
                                                                 [s for s, _ in maybe]))
        used = [(leaf, seq) for (w, leaf, seq) in saves if w < k]
        leaf_next = q.channel.start + q.channel.index
        if used and leaf_next <= max(u[0] for u in used):
            fail(k, "next leaf %d but leaf %d was reserved before the cut" % (leaf_next, max(u[0] for u in used)))
        if used and q.next_seq <= max(u[1] for u in used):
            fail(k, "next seq %d but seq %d was reserved before the cut" % (q.next_seq, max(u[1] for u in used)))
        if k % 20 == 0:
            q.sample()
            leaf = q.channel.start + q.channel.index
            if q.seal() is None:
                fail(k, "the recovered store refused a new record")
            elif used and leaf <= max(u[0] for u in used):
                fail(k, "signed with leaf %d after a reboot, already reserved before" % leaf)
    apply(base, journal[k - 1])
print("done", checked, failed)
