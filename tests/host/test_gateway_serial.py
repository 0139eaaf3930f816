"""The gateway's serial transport: a pty pair (pyserial opens the slave by its serial:// URL) and loop:// wires,
with garbage on the line. Every valid message ends up confirmed on the node and acknowledged over the same line;
the garbage is counted by the framing decoder."""
import os
import random
import time
import tty

import pytest
import serial

from _gateway_helpers import MiniForwarder, SimDevice, write_config
from iota_edge import wire
from iota_edge.framing import Link, LinkTimeout
from iota_edge.gateway.config import load_config
from iota_edge.gateway.service import Gateway
from test_framing_serial import FdStream, Wires
from simulators.node import Node


@pytest.fixture
def node(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=9, milestone_interval=0.3, port=0) as n:
        yield n


def run_device(stream, dev, n, garbage, gw, timeout=90):
    """Send n readings over the device's Link, spraying garbage between them; return the wire acks."""
    acks = []
    link = Link(stream, on_data=lambda p: acks.append(wire.decode(p)), window=1, timeout_ms=200, retries=1000,
                max_payload=16384, first_seq=random.randrange(65536))
    rng = random.Random(7)
    pending = [dev.up(seq) for seq in range(n)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pending and link.pending() == 0:
            link.send(pending.pop(0))
            garbage(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))))
        try:
            link.poll()
        except LinkTimeout:
            pass
        if not pending and {a.seq for a in acks if a.status == "confirmed"} == set(range(n)):
            return acks
        time.sleep(0.002)
    raise AssertionError("acks after %d s: %r, gateway %r" % (timeout, acks, gw.stats()))


def check_garbage_counted(gw):
    (ts,) = gw.stats()["transports"].values()
    assert ts["garbage_bytes"] + ts["bad_crc"] + ts["too_long"] > 0, ts
    assert gw.stats()["rejects"] == {}


def test_serial_pty_with_garbage(node, tmp_path):
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        dev = SimDevice("uart-1")
        url = "serial://%s?baud=115200" % os.ttyname(slave)
        cfg = load_config(write_config(tmp_path, [{"url": url}], [dev], node_url=node.url))
        with Gateway(cfg, forwarder=MiniForwarder.factory) as gw:
            assert gw.transports[0].wait_connected(5)
            acks = run_device(FdStream(master), dev, 8, lambda junk: os.write(master, junk), gw)
            assert [a.status for a in acks].count("confirmed") == 8
            check_garbage_counted(gw)
    finally:
        os.close(master)
        os.close(slave)


def test_serial_loop_with_garbage(node, tmp_path):
    ab = serial.serial_for_url("loop://", timeout=0)
    ba = serial.serial_for_url("loop://", timeout=0)
    gateway_end, device_end = Wires(ab, ba), Wires(ba, ab)
    dev = SimDevice("loop-1", mode="restricted", side_key="SIDEKEY")
    cfg = load_config(write_config(tmp_path, [{"url": "loop://"}], [dev], node_url=node.url))
    with Gateway(cfg, forwarder=MiniForwarder.factory, serial_opener=lambda url, **kw: gateway_end) as gw:
        assert gw.transports[0].wait_connected(5)
        acks = run_device(device_end, dev, 6, ab.write, gw)
        assert sorted(a.seq for a in acks if a.status == "confirmed") == list(range(6))
        check_garbage_counted(gw)
