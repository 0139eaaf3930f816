"""Serial framing and the reliable link on CPython and MicroPython: COBS and frame round trips, resynchronisation
after garbage, truncated and oversized frames, bad CRC, and the link over a deterministic lossy pipe pair.
``micropython -X heapsize=4m tests/portable/run.py test_framing``."""
from _support import raises

from iota_edge.errors import InvalidValue
from iota_edge.framing import ACK, DATA, NACK, SYNC, Decoder, Link, LinkTimeout, cobs_decode, cobs_encode
from iota_edge.framing import decode_frame, encode_frame, encode_frame_into, max_encoded_size


class Rng:
    """xorshift32: the same fault sequence on every runtime (no random module in the portable tests)."""

    def __init__(self, seed):
        self.state = seed or 1

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        return self.next() % n

    def bytes(self, n):
        return bytes(self.below(256) for _ in range(n))


def test_cobs_round_trip_lengths_and_every_byte():
    rng = Rng(7)
    for n in (0, 1, 2, 253, 254, 255, 256, 508, 509, 600):
        for data in (bytes(n), b"\xff" * n, rng.bytes(n), bytes(i % 256 for i in range(n))):
            enc = cobs_encode(data)
            assert 0 not in enc
            assert len(enc) <= n + n // 254 + 1
            assert cobs_decode(enc) == data


def test_cobs_rejects_malformed():
    raises(InvalidValue, cobs_decode, b"\x05ab")  # code past the end
    raises(InvalidValue, cobs_decode, b"\x03a\x00")  # a zero inside


def test_frame_round_trip_every_byte_value():
    payload = bytes(range(256))
    for kind in (DATA, ACK, SYNC, NACK):
        for seq in (0, 1, 255, 256, 0x1234, 0xFFFF):
            frame = encode_frame(kind, seq, payload)
            assert frame[0] == 0 and frame[-1] == 0 and 0 not in frame[1:-1]
            assert len(frame) <= max_encoded_size(256)
            assert decode_frame(frame) == (kind, seq, payload)
            assert Decoder().feed(frame) == [(kind, seq, payload)]


def test_frame_into_one_buffer_is_the_same_frame():
    """Frames encoded into one reused buffer (the device's transmit buffer), from bytes or a memoryview, are the
    bytes encode_frame gives, at every length around COBS's 254-byte blocks."""
    buf = bytearray(max_encoded_size(600) + 5)
    for n in (0, 1, 250, 251, 252, 253, 254, 255, 507, 508, 600):
        payload = bytes((i * 7 + n) & 0xFF for i in range(n))
        for data in (payload, memoryview(bytearray(payload))):
            m = encode_frame_into(buf, DATA, n, data)
            assert bytes(buf[:m]) == encode_frame(DATA, n, payload), n
            assert decode_frame(buf[:m]) == (DATA, n, payload)
    raises(InvalidValue, encode_frame_into, bytearray(max_encoded_size(10) - 1), DATA, 0, b"x" * 10)


def test_frame_rejects_bad_arguments():
    raises(InvalidValue, encode_frame, 9, 0, b"")
    raises(InvalidValue, encode_frame, DATA, 0x10000, b"")
    raises(InvalidValue, encode_frame, DATA, -1, b"")


def test_decoder_byte_by_byte_and_in_chunks():
    frames = [encode_frame(DATA, i, bytes([i]) * i) for i in range(20)]
    stream = b"".join(frames)
    d = Decoder()
    got = []
    for i in range(len(stream)):
        got += d.feed(stream[i:i + 1])
    assert got == [(DATA, i, bytes([i]) * i) for i in range(20)]
    d2 = Decoder()
    got2 = []
    for i in range(0, len(stream), 37):
        got2 += d2.feed(stream[i:i + 37])
    assert got2 == got
    assert d.stats == {"frames": 20, "garbage_bytes": 0, "bad_crc": 0, "too_long": 0}


def test_garbage_between_and_inside_frames():
    rng = Rng(11)
    a = encode_frame(DATA, 1, b"first")
    b = encode_frame(DATA, 2, b"second")
    c = encode_frame(ACK, 3)
    garbage = rng.bytes(300)
    d = Decoder()
    assert d.feed(garbage + a + garbage + b + b"\x17\x42" + c) == [(DATA, 1, b"first"), (DATA, 2, b"second"),
                                                                     (ACK, 3, b"")]
    assert d.stats["frames"] == 3
    assert d.stats["garbage_bytes"] + d.stats["bad_crc"] + d.stats["too_long"] > 0
    # garbage inside a frame drops that frame only
    inner = a[:4] + b"\x99\x98" + a[4:]
    d = Decoder()
    assert d.feed(inner + b) == [(DATA, 2, b"second")]
    assert d.stats["bad_crc"] + d.stats["garbage_bytes"] >= 1


def test_truncated_frame_then_good_frame():
    a = encode_frame(DATA, 5, b"truncated payload")
    b = encode_frame(DATA, 6, b"whole")
    for cut in range(1, len(a) - 1):
        d = Decoder()
        assert d.feed(a[:cut] + b) == [(DATA, 6, b"whole")], cut


def test_bad_crc_and_every_single_byte_corruption():
    frame = encode_frame(DATA, 0x0102, b"sensor reading 21.5C")
    for i in range(1, len(frame) - 1):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(frame)
            bad[i] ^= flip
            d = Decoder()
            got = d.feed(bytes(bad) + encode_frame(ACK, 9))
            assert got == [(ACK, 9, b"")], (i, flip, got)
    d = Decoder()
    body = bytearray(frame)
    body[-2] ^= 0x10
    d.feed(bytes(body))
    assert d.stats["bad_crc"] + d.stats["garbage_bytes"] >= 1


def test_max_size_bounded():
    d = Decoder(max_payload=32)
    ok = encode_frame(DATA, 1, b"x" * 32)
    big = encode_frame(DATA, 2, b"y" * 33)
    huge = b"\x01" * 1000
    assert d.feed(ok + big + huge + b"\x00" + ok) == [(DATA, 1, b"x" * 32)] * 2
    assert d.stats["too_long"] == 2
    assert len(d._buf) == 3 + 32 + 4 + 1


class Pipe:
    """One direction of a line: write() puts bytes through a deterministic fault model, read(n) takes them."""

    def __init__(self, rng, faults):
        self.rng = rng
        self.faults = faults
        self.buf = bytearray()

    def write(self, data):
        r = self.rng.below(100) if self.faults else 99
        data = bytearray(data)
        if r < 8:
            return len(data)  # the whole frame lost
        if r < 14 and len(data) > 2:
            k = self.rng.below(len(data))
            data = data[:k] + data[k + 1:]  # one byte lost
        elif r < 20:
            data[self.rng.below(len(data))] ^= 1 + self.rng.below(255)  # one byte corrupted
        elif r < 25:
            data = data + data  # duplicated
        elif r < 30:
            self.buf += self.rng.bytes(1 + self.rng.below(40))  # line noise before the frame
        self.buf += data
        return len(data)


class End:
    """One end of a pipe pair: reads from one pipe, writes to the other."""

    def __init__(self, rx, tx):
        self.rx = rx
        self.tx = tx

    def read(self, n):
        out = bytes(self.rx.buf[:n])
        self.rx.buf = self.rx.buf[n:]
        return out

    def write(self, data):
        return self.tx.write(data)


def _pair(seed, faults=True):
    rng = Rng(seed)
    ab, ba = Pipe(rng, faults), Pipe(rng, faults)
    return End(ba, ab), End(ab, ba)


def _transfer(seed, window, count_a, count_b, faults=True, first_seq=0):
    now = [0]
    clock = lambda: now[0]
    end_a, end_b = _pair(seed, faults)
    got_a, got_b = [], []
    a = Link(end_a, on_data=got_a.append, window=window, timeout_ms=50, retries=50, clock=clock,
             first_seq=first_seq)
    b = Link(end_b, on_data=got_b.append, window=window, timeout_ms=50, retries=50, clock=clock)
    sent_a = [b"a%d" % i + bytes([i % 256]) * (i % 60) for i in range(count_a)]
    sent_b = [b"b%d" % i for i in range(count_b)]
    for i in range(max(count_a, count_b)):
        if i < count_a:
            a.send(sent_a[i])
        if i < count_b:
            b.send(sent_b[i])
        a.poll()
        b.poll()
    for _ in range(20000):
        if not a.pending() and not b.pending() and len(got_b) == count_a and len(got_a) == count_b:
            break
        now[0] += 10
        a.poll()
        b.poll()
    assert got_b == sent_a, (len(got_b), count_a)
    assert got_a == sent_b, (len(got_a), count_b)
    assert a.pending() == 0 and b.pending() == 0
    return a, b


def test_link_clean_line():
    a, b = _transfer(1, 1, 10, 5, faults=False)
    assert a.stats["retransmits"] == 0 and b.stats["delivered"] == 10 and a.stats["delivered"] == 5


def test_link_lossy_stop_and_wait_exactly_once_in_order():
    a, b = _transfer(2, 1, 60, 30)
    assert a.stats["retransmits"] > 0
    assert a.stats["garbage_bytes"] + b.stats["garbage_bytes"] + a.stats["bad_crc"] + b.stats["bad_crc"] > 0
    assert a.stats["duplicates"] + b.stats["duplicates"] > 0


def test_link_lossy_window_exactly_once_in_order():
    for seed in (3, 4):
        _transfer(seed, 4, 60, 30)


def test_link_sequence_wraps():
    _transfer(5, 2, 30, 3, first_seq=0xFFF0)


def test_link_timeout_keeps_frame():
    now = [0]
    sink = End(Pipe(Rng(1), False), Pipe(Rng(1), False))
    link = Link(sink, window=1, timeout_ms=100, retries=2, clock=lambda: now[0])
    link.send(b"nobody listens")
    raised = 0
    for _ in range(10):
        now[0] += 100
        try:
            link.poll()
        except LinkTimeout:
            raised += 1
    assert raised == 3 and link.pending() == 1
    raises(InvalidValue, link.send, b"x" * 257)


def test_peer_reboot_resyncs():
    now = [0]
    clock = lambda: now[0]
    end_a, end_b = _pair(9, faults=False)
    got = []
    a = Link(end_a, window=2, timeout_ms=50, clock=clock)
    b = Link(end_b, on_data=got.append, window=2, timeout_ms=50, clock=clock)
    for i in range(5):
        a.send(b"%d" % i)
        for _ in range(3):
            a.poll()
            b.poll()
    b = Link(end_b, on_data=got.append, window=2, timeout_ms=50, clock=clock)  # the receiver rebooted
    for i in range(5, 8):
        a.send(b"%d" % i)
    a2 = Link(end_a, window=2, timeout_ms=50, clock=clock, first_seq=1000)  # then the sender rebooted too
    for _ in range(20):
        now[0] += 10
        a.poll()
        b.poll()
    a = a2
    for i in range(8, 11):
        a.send(b"%d" % i)
    for _ in range(20):
        now[0] += 10
        a.poll()
        b.poll()
    assert got == [b"%d" % i for i in range(11)], got
    assert b.stats["nacks"] == 0 and a.pending() == 0


class Uart:
    """machine.UART's shape: any() counts waiting bytes, read(n) returns None when there are none."""

    def __init__(self, end):
        self.end = end
        self.reads = 0

    def any(self):
        return len(self.end.rx.buf)

    def read(self, n):
        self.reads += 1
        return self.end.read(n) or None

    def write(self, data):
        return self.end.write(data)


def test_uart_shape_and_failing_callback_redelivers():
    now = [0]
    clock = lambda: now[0]
    end_a, end_b = _pair(12, faults=False)
    uart = Uart(end_b)
    got = []
    fail = [2]

    def store(payload):
        if fail[0]:
            fail[0] -= 1
            raise OSError("outbox full")
        got.append(payload)

    a = Link(end_a, window=1, timeout_ms=30, clock=clock)
    b = Link(uart, on_data=store, window=1, timeout_ms=30, clock=clock)
    a.send(b"m0")
    a.send(b"m1")
    errors = 0
    for _ in range(20):
        now[0] += 10
        a.poll()
        try:
            b.poll()
        except OSError:
            errors += 1
    a.send(b"m2")
    for _ in range(10):
        now[0] += 10
        a.poll()
        b.poll()
    assert errors == 2
    assert got == [b"m0", b"m1", b"m2"], got
    reads = uart.reads
    b.poll()
    assert uart.reads == reads  # nothing waiting: read() not called
