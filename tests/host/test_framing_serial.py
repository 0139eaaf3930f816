"""The framing link over real serial plumbing: pyserial ``loop://`` wires and a pty pair (pyserial on the slave
end, in this process and in a second process), with a burst of line noise mid-transfer; hypothesis properties of
the frame codec. Needs pyserial 3.5 (the ``test`` extra)."""
import os
import random
import select
import subprocess
import sys
import textwrap
import time
import tty

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iota_edge.framing import ACK, DATA, KINDS, NACK, SYNC, Decoder, Link, encode_frame

import serial  # noqa: E402  (pyserial, in the test extras)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _clock():
    return int(time.monotonic() * 1000)


class Wires:
    """A full-duplex line from two one-way pyserial loop:// ports: this end writes one, reads the other."""

    def __init__(self, rx, tx):
        self.rx = rx
        self.tx = tx

    @property
    def in_waiting(self):
        return self.rx.in_waiting

    def read(self, n):
        return self.rx.read(n)

    def write(self, data):
        return self.tx.write(data)

    def close(self):
        pass


class FdStream:
    """The pty master as a stream: non-blocking reads through select, whole writes."""

    def __init__(self, fd):
        self.fd = fd

    def read(self, n):
        if not select.select([self.fd], [], [], 0)[0]:
            return b""
        return os.read(self.fd, n)

    def write(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        return len(data)


def _payloads(prefix, count, seed):
    rng = random.Random(seed)
    return [prefix + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200))) for _ in range(count)]


def _run_pair(a, b, sent_a, sent_b, noise=None, deadline_s=20.0):
    """Send both lists through links a and b (real clock); noise(i) may write garbage on the line."""
    got_a, got_b = [], []
    a.on_data, b.on_data = got_a.append, got_b.append
    end = time.monotonic() + deadline_s
    i = 0
    while len(got_b) < len(sent_a) or len(got_a) < len(sent_b) or a.pending() or b.pending():
        assert time.monotonic() < end, (len(got_a), len(got_b), a.stats, b.stats)
        if i < len(sent_a) and a.pending() < 4:
            a.send(sent_a[i])
            if i < len(sent_b):
                b.send(sent_b[i])
            if noise:
                noise(i)
            i += 1
        a.poll()
        b.poll()
        if not (a.pending() or b.pending()):
            time.sleep(0.0005)
    assert got_b == sent_a
    assert got_a == sent_b
    return got_a, got_b


@pytest.mark.parametrize("window", [1, 4])
def test_link_over_pyserial_loop(window):
    ab = serial.serial_for_url("loop://", timeout=0)
    ba = serial.serial_for_url("loop://", timeout=0)
    try:
        a = Link(Wires(ba, ab), window=window, timeout_ms=30, retries=100, clock=_clock)
        b = Link(Wires(ab, ba), window=window, timeout_ms=30, retries=100, clock=_clock)
        rng = random.Random(window)

        def noise(i):
            if i == 20:  # a burst of line noise in both directions, mid-transfer
                ab.write(bytes(rng.getrandbits(8) for _ in range(2048)))
                ba.write(bytes(rng.getrandbits(8) for _ in range(512)))

        _run_pair(a, b, _payloads(b"A", 40, 1), _payloads(b"B", 20, 2), noise)
        assert b.stats["garbage_bytes"] + b.stats["bad_crc"] + b.stats["too_long"] > 0
    finally:
        ab.close()
        ba.close()


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_link_over_pty_pyserial(pty_pair):
    master, path = pty_pair
    port = serial.Serial(path, baudrate=115200, timeout=0)
    try:
        host = Link(FdStream(master), window=2, timeout_ms=50, retries=100, clock=_clock)
        device = Link(port, window=2, timeout_ms=50, retries=100, clock=_clock)
        rng = random.Random(3)

        def noise(i):
            if i == 15:
                os.write(master, bytes(rng.getrandbits(8) for _ in range(1024)))

        _run_pair(host, device, _payloads(b"H", 30, 3), _payloads(b"D", 30, 4), noise)
        assert device.stats["garbage_bytes"] + device.stats["bad_crc"] + device.stats["too_long"] > 0
    finally:
        port.close()


_DEVICE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    import serial
    from iota_edge.framing import Link
    port = serial.Serial(sys.argv[1], baudrate=115200, timeout=0)
    done = []
    def echo(payload):
        if payload == b"QUIT":
            done.append(1)
        else:
            link.send(payload[::-1])
    link = Link(port, on_data=echo, window=2, timeout_ms=50, retries=200,
                clock=lambda: int(time.monotonic() * 1000))
    port.write(b"\\x00READY\\x00")
    end = time.monotonic() + 30
    while not (done and not link.pending()) and time.monotonic() < end:
        link.poll()
        time.sleep(0.0005)
    sys.stdout.write(repr(link.stats))
    sys.exit(0 if done else 1)
""")


def test_link_over_pty_second_process(pty_pair):
    """Host on the pty master (this process), device with pyserial on the slave path in a child process: every
    payload is echoed back reversed, exactly once, despite a garbage burst mid-transfer."""
    master, path = pty_pair
    child = subprocess.Popen([sys.executable, "-c", _DEVICE, path, ROOT], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        stream = FdStream(master)
        seen = b""
        end = time.monotonic() + 10
        while b"READY" not in seen:  # pyserial's open() flushes input: wait for the device's banner
            assert time.monotonic() < end and child.poll() is None, seen
            seen += stream.read(64)
            time.sleep(0.001)
        got = []
        host = Link(stream, on_data=got.append, window=2, timeout_ms=50, retries=200, clock=_clock)
        sent = _payloads(b"P", 25, 5)
        rng = random.Random(6)
        end = time.monotonic() + 20
        for i, payload in enumerate(sent):
            host.send(payload)
            if i == 10:
                os.write(master, bytes(rng.getrandbits(8) for _ in range(1024)))
            while host.pending() >= 2:
                assert time.monotonic() < end
                host.poll()
                time.sleep(0.0005)
        while len(got) < len(sent) or host.pending():
            assert time.monotonic() < end, (len(got), host.stats)
            host.poll()
            time.sleep(0.0005)
        host.send(b"QUIT")
        while host.pending():
            assert time.monotonic() < end
            host.poll()
            time.sleep(0.0005)
        out, err = child.communicate(timeout=10)
        assert child.returncode == 0, err
        assert got == [p[::-1] for p in sent]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


frames = st.tuples(st.sampled_from(KINDS), st.integers(0, 0xFFFF), st.binary(max_size=256))


@settings(max_examples=200, deadline=None)
@given(frames, st.binary(max_size=64))
def test_property_round_trip(frame, garbage):
    kind, seq, payload = frame
    wire = encode_frame(kind, seq, payload)
    assert Decoder().feed(wire) == [frame]
    # after any garbage the frame still decodes, fed whole or in pieces
    d = Decoder()
    got = []
    data = garbage + wire
    for i in range(0, len(data), 7):
        got += d.feed(data[i:i + 7])
    assert got[-1] == frame


@settings(max_examples=300, deadline=None)
@given(frames, st.data())
def test_property_single_corrupted_byte_detected(frame, data):
    wire = bytearray(encode_frame(*frame))
    i = data.draw(st.integers(0, len(wire) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != wire[i]))
    wire[i] = value
    sentinel = encode_frame(ACK, 7)
    got = Decoder().feed(bytes(wire) + sentinel)
    assert got == [(ACK, 7, b"")], (i, value, got)


def test_kinds_are_distinct():
    assert len({DATA, ACK, SYNC, NACK}) == 4
