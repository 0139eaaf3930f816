"""firmware/app/store.py: the record log behind the device's outbox, on CPython and on the real MicroPython unix port.

The power-cut and outage bars of issue #6 run on MicroPython over a RAM flash formatted with littlefs v2
(tests/firmware/powercut.py, tests/firmware/outage.py); format and error handling are also checked on CPython.
"""
import binascii
import os
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from app.store import OVERHEAD, Store  # noqa: E402

mp = pytest.mark.micropython


def _segments(d):
    return sorted(n for n in os.listdir(d) if n.startswith("seg"))


def _fill(s, first, last, size=20):
    for i in range(first, last + 1):
        assert s.append(i, (b"%06d" % i) * (size // 6 + 1))


def _payload(i, size=20):
    return (b"%06d" % i) * (size // 6 + 1)


def _record(seq, payload):
    head = struct.pack("<BHI", 0xA5, len(payload), seq) + payload
    return head + struct.pack("<I", binascii.crc32(head) & 0xFFFFFFFF)


# -- MicroPython: the bars -----------------------------------------------------------------------------------------

@mp
def test_power_cut_at_every_block_write(micropython, root):
    """200 readings with lagging acks (segment rollovers, cursor renames and compactions included); power is cut at
    every single block write and erase of the run (936 today), the one in progress landing torn. After each reboot every record whose
    append returned is there, intact and in order, nothing corrupt is returned and the cursor is old or new."""
    script = os.path.join(root, "tests/firmware/powercut.py")
    cmd = [micropython, "-X", "heapsize=2m", script, root]
    out = subprocess.run(cmd + ["count"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    writes = int(out.stdout.split("writes")[1].split()[0])
    assert writes >= 400, out.stdout
    # Every k from 1 to the last write, in two processes (two halves) run side by side.
    half = writes // 2
    procs = [subprocess.Popen(cmd + ["cut", str(a), str(b)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for a, b in ((1, half), (half + 1, writes))]
    passed = 0
    for p in procs:
        so, se = p.communicate(timeout=300)
        assert p.returncode == 0, so[-3000:] + se[-3000:]
        fails = [line for line in so.splitlines() if line.startswith("FAIL")]
        assert not fails, fails[:10]
        done = so.strip().splitlines()[-1].split()
        assert done[0] == "done" and done[2] == "0", so[-2000:]
        passed += int(done[1])
    assert passed == writes


@mp
def test_outage_of_1000_readings_then_delivery_and_shrink(micropython, root):
    out = subprocess.run([micropython, "-X", "heapsize=1m", os.path.join(root, "tests/firmware/outage.py"), root],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = dict((line.split()[0], line.split()[1:]) for line in out.stdout.splitlines())
    assert lines["appended"][0] == "1000"
    assert lines["delivered"] == ["1000", "ordered"]
    peak_bytes, peak_blocks = int(lines["peak"][0]), int(lines["peak"][1])
    after_bytes, after_blocks, after_segments = [int(x) for x in lines["after"]]
    assert peak_bytes > 1000 * OVERHEAD and peak_blocks >= 8
    assert after_bytes == 0 and after_segments == 0
    # Left in use: the store's directory pair and its cursor file, whatever the backlog was.
    assert after_blocks <= 4 < peak_blocks


@mp
def test_store_runs_in_a_64k_heap(micropython, root, tmp_path):
    code = (
        "import sys, gc; sys.path.insert(0, %r)\n"
        "from app.store import Store\n"
        "s = Store(%r, budget_bytes=16384, segment_bytes=2048)\n"
        "for i in range(1, 301): s.append(i, b'reading %%05d ........' %% i)\n"
        "p = s.pending(20); assert [q for q, _ in p] == list(range(1, 21)), p\n"
        "s.ack(150); s = Store(%r, budget_bytes=16384, segment_bytes=2048)\n"
        "st = s.stats(); assert st['pending'] == 150 and st['cursor'] == 150, st\n"
        "gc.collect(); print('free', gc.mem_free())\n"
        % (os.path.join(root, "firmware"), str(tmp_path / "s"), str(tmp_path / "s"))
    )
    out = subprocess.run([micropython, "-X", "heapsize=64k", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(out.stdout.split()[1]) > 8 * 1024


@mp
def test_micropython_and_cpython_share_the_format(micropython, root, tmp_path):
    """Files written by MicroPython read back byte for byte on CPython, and the other way round."""
    d = str(tmp_path / "s")
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from app.store import Store\n"
        "s = Store(%r, segment_bytes=256, budget_bytes=4096)\n"
        "[s.append(i, bytes([i]) * i) for i in range(1, 41)]\ns.ack(7)\n" % (os.path.join(root, "firmware"), d)
    )
    out = subprocess.run([micropython, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    s = Store(d, segment_bytes=256, budget_bytes=4096)
    assert s.pending(100) == [(i, bytes([i]) * i) for i in range(8, 41)]
    s.append(41, b"from cpython")
    read = ("import sys; sys.path.insert(0, %r)\nfrom app.store import Store\n"
            "print(Store(%r, segment_bytes=256, budget_bytes=4096).pending(100)[-1])\n"
            % (os.path.join(root, "firmware"), d))
    out = subprocess.run([micropython, "-c", read], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "(41, b'from cpython')", out.stdout + out.stderr


# -- CPython: format, recovery, budget, errors -----------------------------------------------------------------------

def test_record_layout(tmp_path):
    s = Store(str(tmp_path), segment_bytes=256, budget_bytes=1024)
    s.append(0x01020304, b"hi")
    raw = open(str(tmp_path / _segments(str(tmp_path))[0]), "rb").read()
    assert raw == _record(0x01020304, b"hi")
    assert raw[:7] == b"\xa5\x02\x00\x04\x03\x02\x01" and raw[7:9] == b"hi"
    assert raw[9:] == (binascii.crc32(raw[:9]) & 0xFFFFFFFF).to_bytes(4, "little")
    assert len(raw) == 2 + OVERHEAD


def test_outage_1000_on_cpython(tmp_path):
    d = str(tmp_path)
    s = Store(d, budget_bytes=128 * 1024, segment_bytes=4096)
    _fill(s, 1, 1000)
    assert s.stats()["pending"] == 1000 and len(_segments(d)) > 5
    got = []
    while True:
        batch = s.pending(64)
        if not batch:
            break
        got.extend(batch)
        s.ack(batch[-1][0])
    assert got == [(i, _payload(i)) for i in range(1, 1001)]
    st = s.stats()
    assert st["bytes"] == st["records"] == st["segments"] == st["pending"] == 0
    assert _segments(d) == [] and os.listdir(d) == ["ack"]
    # The cursor survives a reboot and the sequence still has to increase.
    s = Store(d, budget_bytes=128 * 1024, segment_bytes=4096)
    assert s.cursor == 1000 and s.pending() == []
    with pytest.raises(ValueError, match="increase"):
        s.append(1000, b"x")
    assert s.append(1001, b"x") and s.pending() == [(1001, b"x")]


def test_pending_respects_limit_and_partial_ack(tmp_path):
    s = Store(str(tmp_path), segment_bytes=128, budget_bytes=8192)
    _fill(s, 1, 50)
    s.ack(17)
    assert [q for q, _ in s.pending(5)] == [18, 19, 20, 21, 22]
    assert s.stats()["pending"] == 33
    s.ack(17)  # repeated and older acks are no-ops
    s.ack(3)
    assert s.cursor == 17
    s2 = Store(str(tmp_path), segment_bytes=128, budget_bytes=8192)
    assert s2.pending(100) == s.pending(100) and s2.stats()["pending"] == 33


def test_drop_oldest_counts_dropped(tmp_path):
    s = Store(str(tmp_path), segment_bytes=256, budget_bytes=1024, policy="drop_oldest")
    for i in range(1, 201):
        assert s.append(i, _payload(i))
    st = s.stats()
    assert st["bytes"] <= 1024 and st["dropped"] > 0
    assert st["dropped"] + st["records"] == 200
    seqs = [q for q, _ in s.pending(1000)]
    assert seqs == list(range(201 - st["records"], 201))  # the newest survive, in order


def test_drop_oldest_does_not_count_acknowledged_records(tmp_path):
    s = Store(str(tmp_path), segment_bytes=256, budget_bytes=1024)
    _fill(s, 1, 28)  # 35-byte records, 7 a segment: four full segments
    s.ack(20)  # two segments go; 15..20 of the third are acknowledged, 21 is not
    _fill(s, 29, 43)
    assert s.stats()["dropped"] == 0
    assert s.append(44, _payload(44))  # over budget: the oldest segment goes, one unacknowledged record with it
    assert s.stats()["dropped"] == 1
    assert [q for q, _ in s.pending(100)] == list(range(22, 45))


def test_refuse_new_counts_refused(tmp_path):
    s = Store(str(tmp_path), segment_bytes=256, budget_bytes=1024, policy="refuse_new")
    ok = [i for i in range(1, 101) if s.append(i, _payload(i))]
    st = s.stats()
    assert st["refused"] == 100 - len(ok) > 0 and st["dropped"] == 0
    assert ok == list(range(1, len(ok) + 1))  # what was kept is the oldest, untouched
    assert [q for q, _ in s.pending(1000)] == ok
    # Acknowledgements free room again.
    s.ack(ok[-1])
    assert s.append(101, b"room again")


def test_torn_tail_is_dropped_and_only_it(tmp_path):
    d = str(tmp_path)
    s = Store(d, segment_bytes=4096, budget_bytes=16384)
    _fill(s, 1, 10)
    path = os.path.join(d, _segments(d)[-1])
    good = os.path.getsize(path)
    for cut in (1, 5, 7 + 3, 30):  # inside the CRC, the header, the payload
        with open(path, "ab") as f:
            f.write(_record(11, _payload(11))[:cut])
        s = Store(d, segment_bytes=4096, budget_bytes=16384)
        assert s.stats()["torn_tail_dropped"] == 1
        assert os.path.getsize(path) == good
        assert s.pending(100) == [(i, _payload(i)) for i in range(1, 11)]
    # A record cut short: the last append never returned, so it is dropped; the rest stay.
    with open(path, "r+b") as f:
        f.truncate(good - 3)
    s = Store(d, segment_bytes=4096, budget_bytes=16384)
    assert s.stats()["torn_tail_dropped"] == 1
    assert s.pending(100) == [(i, _payload(i)) for i in range(1, 10)]
    assert s.append(10, b"again") and s.pending(100)[-1] == (10, b"again")
    assert not [n for n in os.listdir(d) if n.endswith(".tmp")]


def test_damage_in_the_middle_is_skipped_never_truncated(tmp_path):
    d = str(tmp_path)
    s = Store(d, segment_bytes=4096, budget_bytes=16384)
    _fill(s, 1, 10)
    path = os.path.join(d, _segments(d)[0])
    size = os.path.getsize(path)
    rec = len(_payload(1)) + OVERHEAD
    with open(path, "r+b") as f:  # flip one payload byte of record 4
        f.seek(3 * rec + 9)
        b = f.read(1)
        f.seek(3 * rec + 9)
        f.write(bytes([b[0] ^ 0x40]))
    s = Store(d, segment_bytes=4096, budget_bytes=16384)
    assert os.path.getsize(path) == size
    st = s.stats()
    assert st["corrupt_skipped"] == 1 and st["torn_tail_dropped"] == 0
    assert s.pending(100) == [(i, _payload(i)) for i in range(1, 11) if i != 4]


def test_interrupted_rewrites_and_cursor_updates(tmp_path):
    d = str(tmp_path)
    s = Store(d, segment_bytes=512, budget_bytes=4096)
    _fill(s, 1, 20)
    s.ack(5)
    # A cut between writing ack.tmp and the rename: the old cursor holds and the leftover goes.
    with open(os.path.join(d, "ack.tmp"), "wb") as f:
        f.write(b"\x09\x00")
    with open(os.path.join(d, _segments(d)[-1] + ".tmp"), "wb") as f:
        f.write(b"half a rewrite")
    s = Store(d, segment_bytes=512, budget_bytes=4096)
    assert s.cursor == 5 and not [n for n in os.listdir(d) if n.endswith(".tmp")]
    assert [q for q, _ in s.pending(100)] == list(range(6, 21))
    # A damaged cursor file (not produced by the store) resends everything rather than losing anything.
    with open(os.path.join(d, "ack"), "wb") as f:
        f.write(b"\x09\x00\x00\x00\x00\x00\x00\x00")
    s = Store(d, segment_bytes=512, budget_bytes=4096)
    assert s.cursor == -1 and s.pending(1)[0][0] == 1


def test_bad_input(tmp_path):
    d = str(tmp_path)
    with pytest.raises(ValueError, match="policy"):
        Store(d, policy="drop_newest")
    with pytest.raises(ValueError, match="budget_bytes"):
        Store(d, budget_bytes=1000, segment_bytes=4096)
    with pytest.raises(ValueError, match="segment_bytes"):
        Store(d, segment_bytes=10)
    s = Store(d, segment_bytes=256, budget_bytes=1024)
    with pytest.raises(ValueError, match="seq"):
        s.append(-1, b"x")
    with pytest.raises(ValueError, match="seq"):
        s.append(1 << 32, b"x")
    with pytest.raises(ValueError, match="seq"):
        s.append("1", b"x")
    with pytest.raises(TypeError, match="payload"):
        s.append(1, "text")
    with pytest.raises(ValueError, match="at most 245"):
        s.append(1, b"x" * 246)
    assert s.append(5, b"x" * 245)
    with pytest.raises(ValueError, match="increase: got 5 after 5"):
        s.append(5, b"y")
    with pytest.raises(ValueError, match="increase"):
        s.append(4, b"y")
    with pytest.raises(ValueError, match="beyond"):
        s.ack(6)
    with pytest.raises(ValueError, match="seq"):
        s.ack(-2)
    assert s.stats()["records"] == 1


class _PowerCut(Exception):
    pass


class _CuttingFs:
    """A non-atomic file system (FAT-like) for the store: every file write, rename and remove is one operation;
    at operation k power goes, a write landing torn (a prefix of its bytes). Exercises the store's own torn-tail
    recovery, which littlefs's copy-on-write files never need."""

    def __init__(self, cut_at):
        self.cut_at = cut_at
        self.ops = 0

    def _op(self):
        self.ops += 1
        return self.ops == self.cut_at

    def open(self, path, mode="r"):
        f = open(path, mode)
        if "r" in mode:
            return f
        fs = self

        class W:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                data = bytes(data)
                if fs._op():
                    f.write(data[:len(data) * (fs.cut_at % 4) // 4])
                    f.close()
                    raise _PowerCut()
                return f.write(data)

            def flush(self):
                f.flush()

            def fileno(self):
                return f.fileno()
        return W()

    def rename(self, a, b):
        if self._op():
            raise _PowerCut()
        os.rename(a, b)

    def remove(self, p):
        if self._op():
            raise _PowerCut()
        os.remove(p)


@pytest.mark.parametrize("budget", [64 * 1024, 1024])
def test_power_cut_at_every_file_operation_on_a_non_atomic_fs(tmp_path, monkeypatch, budget):
    """The same bar as the littlefs run, on a file system whose appends can land torn: 200 readings with lagging
    acks and segment rollovers, power cut at every write/rename/remove; after each reboot (on the real os) every
    returned append is there intact, nothing else but the append in flight, and the cursor is old or new.
    With budget=1024 drop_oldest deletes segments along the way: then every returned record newer than the oldest
    segment that could have been dropped by then must be there."""
    import types
    from app import store as store_mod

    def run(d, cut_at):
        fs = _CuttingFs(cut_at)
        fake_os = types.SimpleNamespace(listdir=os.listdir, stat=os.stat, mkdir=os.mkdir, fsync=lambda fd: None,
                                        rename=fs.rename, remove=fs.remove)
        monkeypatch.setattr(store_mod, "os", fake_os)
        monkeypatch.setattr(store_mod, "open", fs.open, raising=False)
        log = {"stored": [], "acked": -1, "ack": None, "append": None, "firsts": [0]}
        try:
            s = Store(d, segment_bytes=256, budget_bytes=budget)
            for i in range(1, 201):
                log["append"] = i
                assert s.append(i, _payload(i % 40 + 1))
                log["stored"].append(i)
                log["append"] = None
                log["firsts"] = [seg[1] for seg in s._segs]
                if i % (10 if budget > 10000 else 40) == 0:  # the small budget overflows between acks
                    log["ack"] = i - 5
                    s.ack(i - 5)
                    log["acked"], log["ack"] = i - 5, None
            log["dropped"] = s.dropped
        except _PowerCut:
            pass
        finally:
            monkeypatch.setattr(store_mod, "os", os)
            monkeypatch.delattr(store_mod, "open", raising=False)
        return fs.ops, log

    total, log = run(str(tmp_path / "count"), 0)
    assert total > 600 and (log["dropped"] > 50) == (budget < 10000), log["dropped"]
    torn = 0
    for k in range(1, total + 1):
        d = str(tmp_path / ("k%d" % k))
        ops, log = run(d, k)
        s = Store(d, segment_bytes=256, budget_bytes=budget)
        torn += s.torn_tail_dropped
        assert s.cursor in (log["acked"], log["ack"]), k
        extra = log["append"]
        got = s.pending(1000)
        if budget > 10000:
            want = [(i, _payload(i % 40 + 1)) for i in log["stored"] if i > s.cursor]
            assert got == want or got == want + [(extra, _payload(extra % 40 + 1))], k
        else:
            # An append in flight may have dropped the oldest segment (one: records are all 35 bytes).
            firsts = log["firsts"]
            floor = firsts[0] if extra is None else (firsts[1] if len(firsts) > 1 else extra)
            seqs = [q for q, _ in got]
            assert seqs == sorted(set(seqs)), k
            assert set(seqs) <= set(log["stored"]) | {extra}, k
            assert set(i for i in log["stored"] if i > s.cursor and i >= floor) <= set(seqs), k
            assert all(p == _payload(q % 40 + 1) for q, p in got), k
            assert s.stats()["bytes"] <= budget, k
        assert s.stats()["corrupt_skipped"] == 0, k
        assert not [n for n in os.listdir(d) if n.endswith(".tmp")], k
        assert s.append(10 ** 6, b"after") and s.pending(1000)[-1] == (10 ** 6, b"after"), k
    assert torn > total // 3  # torn tails really happened and were dropped


def test_fallback_crc_matches_binascii():
    from app.store import crc32_bitwise
    for data in (b"", b"a", b"123456789", bytes(range(256)) * 3):
        assert crc32_bitwise(data) == binascii.crc32(data)
        assert crc32_bitwise(data[5:], crc32_bitwise(data[:5])) == binascii.crc32(data)
    assert crc32_bitwise(b"123456789") == 0xCBF43926  # the CRC-32 check value
