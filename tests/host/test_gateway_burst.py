"""The gateway's ingestion stores a burst of accepted messages in one outbox transaction (one fsync) and still settles
every message in arrival order, as one by one would: rejects between them, a full outbox part-way, a storage failure.

Each test puts its messages into the inbox before the gateway starts, so the ingestion thread takes them as one burst.
"""
import io
import threading

from _gateway_helpers import SimDevice, wait_for, write_config

from iota_edge import wire
from iota_edge.gateway import outbox as outbox_mod
from iota_edge.gateway.config import load_config
from iota_edge.gateway.service import Gateway
from iota_edge.gateway.transport import Inbound, Transport


class Link(Transport):
    """An in-process transport that records the order of settles and the acks sent back."""

    def __init__(self, holds):
        self.name = "test://link"
        self.holds = holds
        self.settled = []  # (seq, ok) in settle order
        self.acks = []
        self.lock = threading.Lock()

    def start(self, on_message):
        pass

    def stop(self):
        pass

    @property
    def connected(self):
        return True

    def send(self, route, data):
        self.acks.append(wire.decode(data))
        return True

    def inbound(self, seq, data):
        def settled(ok):
            with self.lock:
                self.settled.append((seq, ok))
        return Inbound(self, data, "dev1", settle=settled)


def gateway(tmp_path, dev, link, extra=""):
    path = write_config(tmp_path, [{"url": "loop://"}], [dev], extra=extra)
    return Gateway(load_config(path), forwarder=None, transports=[link], log_stream=io.StringIO())


def count_puts(monkeypatch, fail_first=False):
    """Record the size of every Outbox.put_many call; ``fail_first``: the first one fails as a full disk would."""
    sizes = []
    real = outbox_mod.Outbox.put_many

    def put_many(self, entries):
        sizes.append(len(entries))
        if fail_first and len(sizes) == 1:
            raise outbox_mod.OutboxStorageError("outbox storage: database or disk is full", "path")
        return real(self, entries)
    monkeypatch.setattr(outbox_mod.Outbox, "put_many", put_many)
    return sizes


def test_a_burst_is_stored_in_one_commit_and_settled_in_arrival_order(tmp_path, monkeypatch):
    dev = SimDevice("dev1")
    link = Link(holds=True)
    sizes = count_puts(monkeypatch)
    gw = gateway(tmp_path, dev, link)
    messages = [(0, dev.up(0)), (1, dev.up(1)), (2, dev.up(2)), (-1, b"\xa1garbage"), (3, dev.up(3)), (4, dev.up(4)),
                (1, dev.sent[1])]  # the last: a retransmission of seq 1, a duplicate
    for seq, data in messages:
        gw._inbox.put(link.inbound(seq, data))
    gw.start()
    try:
        assert wait_for(lambda: len(link.settled) == len(messages), 15), link.settled
        assert link.settled == [(seq, True) for seq, _ in messages]
        # 0..2 in one commit, flushed before the reject is settled; 3 and 4 in one more before the duplicate's ack
        assert sizes == [3, 2]
        st = gw.stats()
        assert st["counters"]["accepted"] == 5 and st["counters"]["duplicates"] == 1
        assert st["rejects"] == {"malformed": 1}
        assert [(a.seq, a.status) for a in link.acks] == [(1, "duplicate")]
    finally:
        gw.stop()


def test_a_full_outbox_part_way_keeps_the_rest_in_order_behind_it(tmp_path, monkeypatch):
    dev = SimDevice("dev1")
    link = Link(holds=True)
    sizes = count_puts(monkeypatch)
    gw = gateway(tmp_path, dev, link, extra="\n[outbox]\nmax_items = 3\n")
    for seq in range(6):
        gw._inbox.put(link.inbound(seq, dev.up(seq)))
    gw.start()
    try:
        assert wait_for(lambda: gw.stats()["counters"]["pushed_back"] >= 1, 15)
        assert sizes[0] == 6
        assert link.settled == [(0, True), (1, True), (2, True)]  # 3..5 wait unacknowledged (MQTT: no PUBACK)
        assert gw.stats()["counters"]["accepted"] == 3
        # the verifier took back 3..5, so their redelivery is not a replay of itself (waited for: every 0.2 s the
        # ingestion thread tries 3 again, which holds it in the registry for a moment until the outbox refuses it)
        assert wait_for(lambda: sorted(map(int, gw._verifier.registry.get("dev1")["seen"])) == [0, 1, 2], 5)
        assert gw.stats()["rejects"] == {}
    finally:
        gw.stop()


def test_a_storage_failure_pushes_the_whole_burst_back_and_it_is_kept_later(tmp_path, monkeypatch):
    dev = SimDevice("dev1")
    link = Link(holds=True)
    sizes = count_puts(monkeypatch, fail_first=True)
    gw = gateway(tmp_path, dev, link)
    for seq in range(4):
        gw._inbox.put(link.inbound(seq, dev.up(seq)))
    gw.start()
    try:
        # held after the failure, then tried again one by one (HOLD_RETRY_S) and kept, in order, none rejected
        assert wait_for(lambda: len(link.settled) == 4, 15), (link.settled, sizes)
        assert link.settled == [(seq, True) for seq in range(4)]
        assert sizes[0] == 4 and sizes[1:] == [1, 1, 1, 1]
        st = gw.stats()
        assert st["counters"]["pushed_back"] == 4 and st["counters"]["accepted"] == 4 and st["rejects"] == {}
    finally:
        gw.stop()



class Notified:
    """A forwarder (the factory form of Gateway's ``forwarder``) that only counts the ingestion's wake-ups."""

    def __init__(self, outbox, config, logger):
        self.calls = 0

    def run(self, stop):
        stop.wait()

    def stats(self):
        return {}

    def notify(self):
        self.calls += 1


def test_a_stored_burst_wakes_the_forwarder_once(tmp_path):
    dev = SimDevice("dev1")
    link = Link(holds=True)
    path = write_config(tmp_path, [{"url": "loop://"}], [dev])
    gw = Gateway(load_config(path), forwarder=Notified, transports=[link], log_stream=io.StringIO()).start()
    try:
        assert wait_for(lambda: gw.forwarder is not None, 15)  # made in its own thread (earlier puts: its first pass)
        burst = [link.inbound(seq, dev.up(seq)) for seq in range(4)]
        with gw._inbox.mutex:  # all four at once: the ingestion thread takes them as one burst
            gw._inbox.queue.extend(burst)
            gw._inbox.not_empty.notify()
        assert wait_for(lambda: gw.stats()["counters"]["accepted"] == 4, 15)
        assert gw.forwarder.calls == 1  # one burst, one outbox commit, one wake
        gw._inbox.put(link.inbound(2, burst[2].data))  # a resend stores nothing: no wake
        assert wait_for(lambda: gw.stats()["counters"]["duplicates"] == 1, 15)
        assert gw.forwarder.calls == 1
    finally:
        gw.stop()
