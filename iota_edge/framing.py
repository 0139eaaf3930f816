"""Serial link protocol of the device and the gateway: COBS frames with CRC-32, and a reliable link over them.

    from iota_edge.framing import Link
    link = Link(uart, on_data=handle, window=1, timeout_ms=300, retries=8)
    seq = link.send(cbor.dumps(reading))     # sent now if the window has room, else by a later poll()
    while link.pending():
        link.poll()                           # reads, ACKs, delivers to handle(payload), retransmits

Wire format (both directions, CPython and MicroPython)::

    0x00  COBS( kind:u8  seq:u16be  payload  crc32(kind|seq|payload):u32be )  0x00

Each frame starts and ends with the delimiter, so garbage before a frame ends as a bad frame of its own and the
next frame still decodes. COBS (Cheshire & Baker, IEEE/ACM ToN 1999) leaves no 0x00 inside a frame: a receiver
resynchronises at the next delimiter after garbage, a truncated frame or a frame longer than its buffer.
CRC-32 is ``binascii.crc32`` (IEEE 802.3), present on MicroPython; it detects every burst error up to 32 bits,
so one corrupted byte always drops the frame and never delivers a wrong payload.

Kinds: DATA carries a payload; SYNC is a DATA frame that also starts the sender's session (the receiver takes
its seq as the new starting point, so either side may reboot); ACK(seq) acknowledges every DATA up to seq
(cumulative, go-back-N); NACK tells a sender that the receiver has no session with it (it answers with SYNC).
"""

from binascii import crc32

from iota_edge.errors import IotaEdgeError, InvalidValue

DATA = 0x01
ACK = 0x02
SYNC = 0x03
NACK = 0x04
KINDS = (DATA, ACK, SYNC, NACK)

DELIMITER = 0x00
HEADER = 3  # kind + seq
TRAILER = 4  # crc32
DEFAULT_MAX_PAYLOAD = 256
_SEQ_MOD = 0x10000
_HALF = 0x8000


class LinkTimeout(IotaEdgeError):
    """A frame went unacknowledged through every retry. It stays pending; the next poll() starts retrying again."""


def max_encoded_size(max_payload):
    """Bytes on the line for a frame of max_payload bytes: COBS adds one byte per 254, plus both delimiters."""
    body = HEADER + max_payload + TRAILER
    return body + body // 254 + 1 + 2


def _cobs_chunk(out, src, o, code_at, code):
    for b in src:
        if b:
            out[o] = b
            o += 1
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at = o
                o += 1
                code = 1
        else:
            out[code_at] = code
            code_at = o
            o += 1
            code = 1
    return o, code_at, code


def cobs_encode_into(out, at, chunks):
    """COBS-encode the concatenation of the byte strings ``chunks`` into ``out`` from offset ``at`` (no
    delimiters); returns the offset after the last byte written. ``out`` needs len(data) + len(data) // 254 + 1
    bytes from ``at``; nothing is allocated, so a device can encode every frame into one buffer."""
    code_at = at
    o = at + 1
    code = 1
    for chunk in chunks:
        o, code_at, code = _cobs_chunk(out, chunk, o, code_at, code)
    out[code_at] = code
    return o


def cobs_encode(data):
    """COBS-encode bytes: the result has no 0x00 (no delimiters added)."""
    n = len(data)
    out = bytearray(n + n // 254 + 1)
    return bytes(memoryview(out)[:cobs_encode_into(out, 0, (data,))])


def _cobs_decode_into(src, n, dst):
    """Decode src[:n] into dst; return the length, or -1 if malformed (a 0x00 or a code past the end)."""
    cap = len(dst)
    i = 0
    o = 0
    while i < n:
        code = src[i]
        if code == 0:
            return -1
        end = i + code
        if end > n:
            return -1
        i += 1
        while i < end:
            b = src[i]
            if b == 0 or o >= cap:
                return -1
            dst[o] = b
            o += 1
            i += 1
        if code != 0xFF and i < n:
            if o >= cap:
                return -1
            dst[o] = 0
            o += 1
    return o


def cobs_decode(data):
    """Inverse of cobs_encode; raises InvalidValue on malformed input."""
    dst = bytearray(len(data))
    n = _cobs_decode_into(data, len(data), dst)
    if n < 0:
        raise InvalidValue("cobs: expected COBS-encoded bytes without 0x00 and with codes inside the data", "data")
    return bytes(dst[:n])


def encode_frame_into(buf, kind, seq, payload=b""):
    """Write the frame for the line (delimiter, COBS(kind, seq, payload, CRC-32), delimiter) into ``buf`` and
    return its length; ``buf`` needs max_encoded_size(len(payload)) bytes. Allocates only a few small objects."""
    if kind not in KINDS:
        raise InvalidValue("kind: expected one of DATA, ACK, SYNC, NACK", "kind")
    if not 0 <= seq < _SEQ_MOD:
        raise InvalidValue("seq: expected an integer 0..65535", "seq")
    if len(buf) < max_encoded_size(len(payload)):
        raise InvalidValue("buf: expected at least max_encoded_size(len(payload)) bytes", "buf")
    head = bytes((kind, seq >> 8, seq & 0xFF))
    crc = crc32(payload, crc32(head)) & 0xFFFFFFFF
    tail = bytes((crc >> 24, (crc >> 16) & 0xFF, (crc >> 8) & 0xFF, crc & 0xFF))
    buf[0] = DELIMITER
    end = cobs_encode_into(buf, 1, (head, payload, tail))
    buf[end] = DELIMITER
    return end + 1


def encode_frame(kind, seq, payload=b""):
    """Frame bytes for the line: delimiter, COBS(kind, seq, payload, CRC-32), delimiter."""
    buf = bytearray(max_encoded_size(len(payload)))
    return bytes(memoryview(buf)[:encode_frame_into(buf, kind, seq, payload)])


def decode_frame(data):
    """The single frame (kind, seq, payload) in data (delimiters optional); raises InvalidValue if it is not one."""
    frames = Decoder(max_payload=max(len(data), 1)).feed(b"\x00" + bytes(data) + b"\x00")
    if len(frames) != 1:
        raise InvalidValue("frame: expected exactly one valid frame", "data")
    return frames[0]


class Decoder:
    """Incremental frame decoder with bounded memory: ``feed(data)`` returns the complete valid frames as
    ``(kind, seq, payload)`` tuples. Bad frames are dropped and counted in ``stats``: ``frames`` (good),
    ``garbage_bytes`` (bytes of frames that were not valid COBS or too short), ``bad_crc``, ``too_long``
    (frames past the buffer, dropped up to the next delimiter). Empty frames (0x00 0x00) are padding."""

    def __init__(self, max_payload=DEFAULT_MAX_PAYLOAD):
        if max_payload < 0:
            raise InvalidValue("max_payload: expected a non-negative size", "max_payload")
        self.max_payload = max_payload
        body = HEADER + max_payload + TRAILER
        self._buf = bytearray(body + body // 254 + 1)
        self._out = bytearray(len(self._buf))
        self._body_max = body
        self._n = 0
        self._skipping = False
        self.stats = {"frames": 0, "garbage_bytes": 0, "bad_crc": 0, "too_long": 0}

    def reset(self):
        """Forget a partial frame (the next bytes start a new one)."""
        self._n = 0
        self._skipping = False

    def feed(self, data):
        frames = []
        buf = self._buf
        cap = len(buf)
        n = self._n
        skipping = self._skipping
        for b in data:
            if b == 0:
                if skipping:
                    skipping = False
                elif n:
                    frame = self._finish(n)
                    if frame is not None:
                        frames.append(frame)
                n = 0
            elif skipping:
                continue
            elif n < cap:
                buf[n] = b
                n += 1
            else:
                self.stats["too_long"] += 1
                skipping = True
                n = 0
        self._n = n
        self._skipping = skipping
        return frames

    def _finish(self, n):
        out = self._out
        m = _cobs_decode_into(self._buf, n, out)
        if m > self._body_max:
            self.stats["too_long"] += 1
            return None
        if m < HEADER + TRAILER or out[0] not in KINDS:
            self.stats["garbage_bytes"] += n
            return None
        end = m - TRAILER
        crc = (out[end] << 24) | (out[end + 1] << 16) | (out[end + 2] << 8) | out[end + 3]
        if crc32(memoryview(out)[:end]) & 0xFFFFFFFF != crc:
            self.stats["bad_crc"] += 1
            return None
        self.stats["frames"] += 1
        return (out[0], (out[1] << 8) | out[2], bytes(out[HEADER:end]))


def _default_clock():
    import time

    monotonic = getattr(time, "monotonic", None)    # CPython; MicroPython has ticks_ms instead
    if monotonic is None:
        return time.ticks_ms, time.ticks_diff
    return (lambda: int(monotonic() * 1000)), None


class Link:
    """Reliable, ordered, exactly-once delivery of payloads over a byte stream with ``read(n)`` and ``write(b)``
    (pyserial ``Serial``, MicroPython ``machine.UART``, a test double). Reads never wait: the link asks
    ``in_waiting`` (pyserial) or ``any()`` (MicroPython UART) first when the stream has them.

    ``window`` frames may be in flight (1 = stop-and-wait; go-back-N above). A frame unacknowledged after
    ``timeout_ms`` is sent again (with every later one in flight); after ``retries`` resends poll() raises
    LinkTimeout and keeps the frame. ``clock()`` returns milliseconds (default: ``time.ticks_ms`` on MicroPython,
    ``time.monotonic`` on CPython); ``clock_diff(a, b)`` is ``a - b`` (``time.ticks_diff`` with ticks_ms).
    ``first_seq`` numbers the first frame of this session: use a boot counter or a random number so that a
    rebooted sender whose previous session delivered only its SYNC frame is not taken for a duplicate.
    Memory: one transmit buffer and the decoder buffers, allocated here (frames are encoded into the transmit
    buffer, so ``stream.write`` gets a memoryview it must consume before returning, as UART and pyserial writes
    do), plus the payloads not yet acknowledged (check pending() before send()). ``rx_max_payload`` (default
    ``max_payload``) bounds the frames received: a device that only receives short acks sets it small.
    ``on_data(payload)`` runs before the ACK goes out: if it raises, the exception leaves poll(), the frame is not
    acknowledged and the peer sends it again (at-least-once into a failing callback, exactly once otherwise).
    """

    def __init__(self, stream, *, on_data=None, window=1, timeout_ms=250, retries=10, clock=None, clock_diff=None,
                 max_payload=DEFAULT_MAX_PAYLOAD, first_seq=0, read_size=64, rx_max_payload=None):
        if not 1 <= window < _HALF:
            raise InvalidValue("window: expected 1..32767 frames", "window")
        if retries < 0 or timeout_ms <= 0:
            raise InvalidValue("retries, timeout_ms: expected retries >= 0 and timeout_ms > 0", "timeout_ms")
        if clock is None:
            clock, default_diff = _default_clock()
            if clock_diff is None:
                clock_diff = default_diff
        self.stream = stream
        self.on_data = on_data
        self.window = window
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.max_payload = max_payload
        self._clock = clock
        self._diff = clock_diff or (lambda a, b: a - b)
        self._read_size = read_size
        self._decoder = Decoder(max_payload if rx_max_payload is None else rx_max_payload)
        self._tx = bytearray(max_encoded_size(max_payload))
        self._txv = memoryview(self._tx)
        self._next_seq = first_seq % _SEQ_MOD
        self._queue = []  # [seq, payload, tries, sent_at or None], oldest first; the first window are in flight
        self._synced = False  # the peer acknowledged a frame of this session
        self._expect = None  # next DATA seq we deliver; None until the peer's SYNC
        self._last_sync = None
        self._stats = {"sent": 0, "retransmits": 0, "acked": 0, "delivered": 0, "duplicates": 0,
                       "out_of_order": 0, "acks_sent": 0, "nacks": 0, "timeouts": 0}

    @property
    def stats(self):
        merged = dict(self._stats)
        merged.update(self._decoder.stats)
        return merged

    def pending(self):
        """Payloads sent or queued and not yet acknowledged."""
        return len(self._queue)

    def send(self, payload):
        """Queue payload for delivery; return its sequence number. It goes out in this or a later poll()."""
        if len(payload) > self.max_payload:
            raise InvalidValue("payload: expected at most %d bytes" % self.max_payload, "payload")
        seq = self._next_seq
        self._next_seq = (seq + 1) % _SEQ_MOD
        self._queue.append([seq, payload if isinstance(payload, bytes) else bytes(payload), 0, None])
        self._transmit(self._clock())
        return seq

    def poll(self):
        """Read what is available, handle the frames, send what the window allows, retransmit on timeout.
        Returns the number of payloads delivered to on_data."""
        delivered = 0
        for _ in range(8):
            data = self._read()
            if not data:
                break
            for kind, seq, payload in self._decoder.feed(data):
                delivered += self._handle(kind, seq, payload)
        now = self._clock()
        self._transmit(now)
        self._check_timeout(now)
        return delivered

    def _read(self):
        stream = self.stream
        size = self._read_size
        waiting = getattr(stream, "in_waiting", None)
        if waiting is None and hasattr(stream, "any"):
            waiting = stream.any()
        if waiting is not None:
            if not waiting:
                return b""
            size = min(size, waiting)
        return stream.read(size) or b""

    def _write(self, kind, seq, payload=b""):
        self.stream.write(self._txv[:encode_frame_into(self._tx, kind, seq, payload)])

    def _in_flight(self):
        return min(len(self._queue), self.window if self._synced else 1)

    def _transmit(self, now):
        queue = self._queue
        for i in range(self._in_flight()):
            entry = queue[i]
            if entry[3] is None:
                kind = DATA if self._synced else SYNC
                self._write(kind, entry[0], entry[1])
                entry[3] = now
                self._stats["sent"] += 1

    def _check_timeout(self, now):
        queue = self._queue
        if not queue or queue[0][3] is None or self._diff(now, queue[0][3]) < self.timeout_ms:
            return
        head = queue[0]
        head[2] += 1
        if head[2] > self.retries:
            head[2] = 0
            head[3] = now
            self._stats["timeouts"] += 1
            raise LinkTimeout("link: frame %d unacknowledged after %d retries" % (head[0], self.retries), "seq")
        for i in range(self._in_flight()):  # go-back-N: everything in flight again, in order
            entry = queue[i]
            self._write(DATA if self._synced else SYNC, entry[0], entry[1])
            entry[3] = now
            self._stats["retransmits"] += 1

    def _handle(self, kind, seq, payload):
        if kind == ACK:
            self._on_ack(seq)
            return 0
        if kind == NACK:
            self._stats["nacks"] += 1
            if self._synced and self._queue:
                self._synced = False
                for entry in self._queue:
                    entry[3] = None
                self._transmit(self._clock())
            return 0
        if kind == SYNC:
            if self._last_sync == seq and self._expect == (seq + 1) % _SEQ_MOD:
                self._stats["duplicates"] += 1
                self._write(ACK, seq)
                self._stats["acks_sent"] += 1
                return 0
            self._last_sync = seq
            self._expect = seq
        if self._expect is None:
            self._write(NACK, seq)
            return 0
        if seq == self._expect:
            if self.on_data is not None:
                self.on_data(payload)
            self._expect = (seq + 1) % _SEQ_MOD
            self._write(ACK, seq)
            self._stats["acks_sent"] += 1
            self._stats["delivered"] += 1
            return 1
        last = (self._expect - 1) % _SEQ_MOD
        if (last - seq) % _SEQ_MOD < _HALF:
            self._stats["duplicates"] += 1  # already delivered: the ACK was lost
        else:
            self._stats["out_of_order"] += 1  # a frame before it was lost: go-back-N resends both
        self._write(ACK, last)
        self._stats["acks_sent"] += 1
        return 0

    def _on_ack(self, seq):
        queue = self._queue
        flight = self._in_flight()
        if not flight or queue[0][3] is None:
            return
        ahead = (seq - queue[0][0]) % _SEQ_MOD
        if ahead >= flight:
            return  # stale or unrelated
        for i in range(ahead + 1):
            if queue[i][3] is None:
                return  # never sent: not ours
        del queue[:ahead + 1]
        self._stats["acked"] += ahead + 1
        self._synced = True
        self._transmit(self._clock())
