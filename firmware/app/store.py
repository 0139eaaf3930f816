"""Append-only record log on the board's filesystem (littlefs), with a persisted acknowledgement cursor.

Readings wait here while the uplink is down. Each record carries its length, a sequence number and a CRC32, so a
boot after a power cut keeps every record whose ``append`` returned, drops only a torn tail and never hands a corrupt
record to the uplink. Runs unchanged on CPython and MicroPython (``os`` without ``os.path``).

    s = Store("/data/outbox", budget_bytes=64 * 1024, segment_bytes=4096, policy="drop_oldest")
    s.append(1, b"reading")
    for seq, payload in s.pending(10):
        ...                     # send
    s.ack(seq)                  # cumulative; fully acknowledged segments are deleted

On-disk layout (little endian), see firmware/README.md:
    record  = magic 0xA5 | u16 payload length | u32 seq | payload | u32 CRC32 of everything before it
    segment = ``seg%08d.log``: records appended in seq order; a new segment once ``segment_bytes`` would be passed
    cursor  = ``ack``: u32 seq | u32 CRC32, replaced atomically (write ``ack.tmp``, rename over ``ack``)
"""
import os
import struct


def crc32_bitwise(data, crc=0):
    """binascii.crc32 (IEEE 802.3, reflected), bit by bit: for a build without MICROPY_PY_BINASCII_CRC32."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


try:
    from binascii import crc32 as _crc32
except ImportError:
    _crc32 = crc32_bitwise

MAGIC = 0xA5
HEADER = 7          # magic, u16 length, u32 seq
OVERHEAD = 11       # header + u32 CRC
MAX_SEQ = 0xFFFFFFFF
_PREFIX = "seg"
_SUFFIX = ".log"
_ACK = "ack"
_TMP = ".tmp"


def _crc(mv, start, end):
    return _crc32(mv[start:end]) & 0xFFFFFFFF


def _record_at(mv, pos, prev_seq):
    """(seq, end) of a valid record at pos whose seq exceeds prev_seq, else None."""
    n = len(mv)
    if pos + OVERHEAD > n or mv[pos] != MAGIC:
        return None
    length = mv[pos + 1] | (mv[pos + 2] << 8)
    end = pos + HEADER + length + 4
    if end > n:
        return None
    if struct.unpack_from("<I", mv, end - 4)[0] != _crc(mv, pos, end - 4):
        return None
    seq = struct.unpack_from("<I", mv, pos + 3)[0]
    if seq <= prev_seq:
        return None
    return seq, end


def scan(buf, prev_seq=-1):
    """Valid records of a segment image: a list of (offset, seq, end), plus the count of damaged stretches skipped
    between valid records and the offset where the valid data ends (anything after it is a torn tail).

    A bad record followed later by a valid one is damage in the middle (skipped, counted, never truncated); a bad
    stretch with no valid record after it is a torn tail."""
    mv = memoryview(buf)
    out = []
    pos = 0
    n = len(mv)
    skipped = 0
    valid_end = 0
    while pos < n:
        r = _record_at(mv, pos, prev_seq)
        if r is None:
            # Resynchronise: the next offset where a valid record starts, if any.
            q = pos + 1
            while q < n:
                if mv[q] == MAGIC:
                    r = _record_at(mv, q, prev_seq)
                    if r is not None:
                        break
                q += 1
            if r is None:
                break
            skipped += 1
            pos = q
        seq, end = r
        out.append((pos, seq, end))
        prev_seq = seq
        pos = end
        valid_end = end
    return out, skipped, valid_end


def _sync(f):
    f.flush()
    # CPython: push the file to the disk. MicroPython's littlefs commits the file on flush/close already.
    fsync = getattr(os, "fsync", None)
    if fsync is not None:
        try:
            fsync(f.fileno())
        except (AttributeError, OSError):
            pass


class Store:
    """The record log in directory ``root_dir``; see the module docstring. Not thread-safe."""

    def __init__(self, root_dir, budget_bytes=64 * 1024, segment_bytes=4096, policy="drop_oldest"):
        if policy not in ("drop_oldest", "refuse_new"):
            raise ValueError("policy must be 'drop_oldest' or 'refuse_new', got %r" % (policy,))
        if not isinstance(segment_bytes, int) or segment_bytes < 64:
            raise ValueError("segment_bytes must be an int >= 64, got %r" % (segment_bytes,))
        if not isinstance(budget_bytes, int) or budget_bytes < 2 * segment_bytes:
            raise ValueError("budget_bytes must be an int >= 2 * segment_bytes (%d), got %r"
                             % (2 * segment_bytes, budget_bytes))
        self.root = root_dir.rstrip("/") or "/"
        self.budget = budget_bytes
        self.segment_bytes = segment_bytes
        self.max_payload = min(0xFFFF, segment_bytes - OVERHEAD)
        self.policy = policy
        self.dropped = 0
        self.refused = 0
        self.torn_tail_dropped = 0
        self.corrupt_skipped = 0
        self._hdr = bytearray(HEADER)
        self._tail = bytearray(4)
        self._scratch = bytearray(64)
        # Per segment, oldest first: [index, first_seq, last_seq, records, bytes]
        self._segs = []
        self._recover()

    # -- paths ------------------------------------------------------------------------------------------------
    def _path(self, name):
        return self.root + "/" + name if self.root != "/" else "/" + name

    def _seg_path(self, index):
        return self._path("%s%08d%s" % (_PREFIX, index, _SUFFIX))

    # -- recovery ---------------------------------------------------------------------------------------------
    def _recover(self):
        try:
            names = os.listdir(self.root)
        except OSError:
            os.mkdir(self.root)
            names = []
        indexes = []
        for name in names:
            if name.endswith(_TMP):
                # A rewrite or cursor update cut before its rename: the original is still in place.
                os.remove(self._path(name))
            elif name.startswith(_PREFIX) and name.endswith(_SUFFIX):
                try:
                    indexes.append(int(name[len(_PREFIX):-len(_SUFFIX)]))
                except ValueError:
                    pass
        indexes.sort()
        self.cursor = self._read_cursor()
        prev = -1
        for i, index in enumerate(indexes):
            path = self._seg_path(index)
            heads = []
            end = self._stream(path, heads, 1 << 30, None, False, -1, prev)
            if end >= 0 and heads and end == os.stat(path)[6]:
                # The usual case, a clean segment, read a record at a time: no segment-sized buffer at boot.
                self._segs.append([index, heads[0][0], heads[-1][0], len(heads), end])
                prev = heads[-1][0]
                continue
            del heads
            with open(path, "rb") as f:
                buf = f.read()
            recs, skipped, valid_end = scan(buf, prev)
            self.corrupt_skipped += skipped
            last = i == len(indexes) - 1
            if not recs:
                # Nothing valid: at most the torn first record of a fresh segment.
                if last and buf:
                    self.torn_tail_dropped += 1
                os.remove(path)
                continue
            if last and valid_end < len(buf):
                # A torn tail: the append that was cut never returned. Rewrite the valid prefix and rename it over
                # the segment, so a second cut leaves either the old or the new file.
                self.torn_tail_dropped += 1
                self._rewrite(path, memoryview(buf)[:valid_end])
                size = valid_end
            else:
                size = len(buf)
            del buf
            self._segs.append([index, recs[0][1], recs[-1][1], len(recs), size])
            prev = recs[-1][1]
        self.last_seq = max(prev, self.cursor)
        self._next_index = indexes[-1] + 1 if indexes else 0
        self.compact()

    def _rewrite(self, path, data):
        tmp = path + _TMP
        with open(tmp, "wb") as f:
            f.write(data)
            _sync(f)
        os.rename(tmp, path)

    def _read_cursor(self):
        try:
            with open(self._path(_ACK), "rb") as f:
                b = f.read()
        except OSError:
            return -1
        if len(b) == 8 and struct.unpack_from("<I", b, 4)[0] == _crc32(b[:4]) & 0xFFFFFFFF:
            return struct.unpack_from("<I", b, 0)[0]
        # Cannot happen with an atomic rename; if it does, resend everything rather than lose anything.
        return -1

    # -- writing ----------------------------------------------------------------------------------------------
    def append(self, seq, payload):
        """Store one record; True once it is on flash. False (and ``refused`` counted) when the budget is spent
        under refuse_new. Under drop_oldest the oldest segments go first and ``dropped`` counts their records."""
        if not isinstance(seq, int) or seq < 0 or seq > MAX_SEQ:
            raise ValueError("seq must be an int in 0..%d, got %r" % (MAX_SEQ, seq))
        if seq <= self.last_seq:
            raise ValueError("seq must increase: got %d after %d" % (seq, self.last_seq))
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError("payload must be bytes, got %s" % type(payload).__name__)
        n = len(payload)
        if n > self.max_payload:
            raise ValueError("payload must be at most %d bytes, got %d" % (self.max_payload, n))
        size = n + OVERHEAD
        if self._bytes() + size > self.budget:
            self.compact()
            while self._bytes() + size > self.budget:
                if self.policy == "refuse_new" or not self._segs:
                    self.refused += 1
                    return False
                seg = self._segs[0]
                self.dropped += self._unacked(seg)
                os.remove(self._seg_path(seg[0]))
                self._segs.pop(0)
        if not self._segs or self._segs[-1][4] + size > self.segment_bytes:
            self._segs.append([self._next_index, seq, seq, 0, 0])
            self._next_index += 1
        seg = self._segs[-1]
        hdr = self._hdr
        hdr[0] = MAGIC
        struct.pack_into("<HI", hdr, 1, n, seq)
        struct.pack_into("<I", self._tail, 0, _crc32(payload, _crc32(hdr)) & 0xFFFFFFFF)
        with open(self._seg_path(seg[0]), "ab") as f:
            f.write(hdr)
            f.write(payload)
            f.write(self._tail)
            _sync(f)
        if seg[3] == 0:
            seg[1] = seq
        seg[2] = seq
        seg[3] += 1
        seg[4] += size
        self.last_seq = seq
        return True

    def _unacked(self, seg):
        """Records of seg after the cursor (reads the headers of the one segment that straddles it)."""
        if seg[2] <= self.cursor:
            return 0
        if seg[1] > self.cursor:
            return seg[3]
        out = []
        self._read_seg(seg, out, 1 << 30, None, False)
        return len(out)

    def _read_seg(self, seg, out, limit, skip, payloads, into=None):
        """Append to ``out`` the (seq, payload) of seg's records after the cursor whose seq is not in ``skip``, up
        to ``limit`` entries in out; payload is None when ``payloads`` is False. Streams one record at a time (a
        segment never sits whole in RAM) and checks every CRC; on anything unexpected (damage in the middle) it
        falls back to scanning the whole segment image, which resynchronises like the boot recovery does."""
        start = len(out)
        path = self._seg_path(seg[0])
        if self._stream(path, out, limit, skip, payloads, self.cursor, -1, into) >= 0:
            return
        del out[start:]
        with open(path, "rb") as f:
            buf = f.read()
        recs, _, _ = scan(buf)
        mv = memoryview(buf)
        for o, s, e in recs:
            if len(out) >= limit:
                break
            if s > self.cursor and not (skip and s in skip):
                out.append((s, bytes(mv[o + HEADER:e - 4]) if payloads else None))

    def _stream(self, path, out, limit, skip, payloads, after, prev, into=None):
        """The streaming read of _read_seg (records with seq <= ``after`` are passed over unread, seqs must exceed
        ``prev``): the offset where the records read end, or -1 if the file is not a clean run of valid records."""
        hdr = self._hdr
        tail = self._tail
        smv = memoryview(self._scratch)
        chunk = len(smv)
        pos = 0
        with open(path, "rb") as f:
            while len(out) < limit:
                got = f.readinto(hdr)
                if not got:
                    break
                if got != HEADER or hdr[0] != MAGIC:
                    return -1
                n = hdr[1] | (hdr[2] << 8)
                seq = struct.unpack_from("<I", hdr, 3)[0]
                if seq <= prev:
                    return -1
                prev = seq
                pos += n + OVERHEAD
                if seq <= after or (skip and seq in skip):
                    f.seek(pos)            # not wanted: its CRC is checked when it is read
                    continue
                crc = _crc32(hdr)
                payload = None
                if into is not None:
                    if n > len(into):
                        return -1
                    payload = memoryview(into)[:n]
                    if f.readinto(payload) != n:
                        return -1
                    crc = _crc32(payload, crc)
                elif payloads:
                    payload = f.read(n)        # one allocation: MicroPython turns its read buffer into the bytes
                    if len(payload) != n:
                        return -1
                    crc = _crc32(payload, crc)
                else:
                    left = n
                    while left:
                        k = f.readinto(smv[:left if left < chunk else chunk])
                        if not k:
                            return -1
                        crc = _crc32(smv[:k], crc)
                        left -= k
                if f.readinto(tail) != 4 or struct.unpack_from("<I", tail, 0)[0] != crc & 0xFFFFFFFF:
                    return -1
                out.append((seq, payload))
                payload = None
        return pos

    # -- reading and acknowledging ----------------------------------------------------------------------------
    def pending(self, limit=16, skip=None, payloads=True, into=None):
        """Up to ``limit`` records after the cursor, oldest first, as (seq, payload bytes). Records whose seq is in
        ``skip`` (a set or dict) are passed over and not counted; ``payloads=False`` gives (seq, None) without
        keeping the payloads in RAM. Records are read one at a time, so RAM holds only what is returned.
        ``into`` (a bytearray, with ``limit`` 1): the payload is read into it and returned as a memoryview of it,
        valid until the buffer is used again (a damaged segment still returns bytes)."""
        if into is not None and limit != 1:
            raise ValueError("into needs limit 1, got %r" % (limit,))
        out = []
        for seg in self._segs:
            if len(out) >= limit:
                break
            if seg[2] <= self.cursor:
                continue
            self._read_seg(seg, out, limit, skip, payloads, into)
        return out

    def ack(self, seq):
        """Acknowledge every record with seq <= ``seq``; persisted before return. Fully acknowledged segments
        are then deleted."""
        if not isinstance(seq, int) or seq < 0 or seq > MAX_SEQ:
            raise ValueError("seq must be an int in 0..%d, got %r" % (MAX_SEQ, seq))
        if seq > self.last_seq:
            raise ValueError("ack %d is beyond the last stored seq %d" % (seq, self.last_seq))
        if seq <= self.cursor:
            return
        b = bytearray(8)
        struct.pack_into("<I", b, 0, seq)
        struct.pack_into("<I", b, 4, _crc32(memoryview(b)[:4]) & 0xFFFFFFFF)
        tmp = self._path(_ACK + _TMP)
        with open(tmp, "wb") as f:
            f.write(b)
            _sync(f)
        os.rename(tmp, self._path(_ACK))
        self.cursor = seq
        self.compact()

    def compact(self):
        """Delete the segments whose records are all acknowledged, oldest first; returns how many."""
        n = 0
        while self._segs and self._segs[0][2] <= self.cursor:
            seg = self._segs.pop(0)
            os.remove(self._seg_path(seg[0]))
            n += 1
        return n

    # -- reporting --------------------------------------------------------------------------------------------
    def _bytes(self):
        total = 0
        for seg in self._segs:
            total += seg[4]
        return total

    def stats(self):
        """Counters for the heartbeat."""
        records = 0
        pending = 0
        for seg in self._segs:
            records += seg[3]
            pending += self._unacked(seg)
        return {
            "records": records,
            "bytes": self._bytes(),
            "pending": pending,
            "dropped": self.dropped,
            "refused": self.refused,
            "torn_tail_dropped": self.torn_tail_dropped,
            "corrupt_skipped": self.corrupt_skipped,
            "segments": len(self._segs),
            "cursor": self.cursor,
            "last_seq": self.last_seq,
        }
