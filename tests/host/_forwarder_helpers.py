"""Helpers of the forwarder tests and the fault campaign: bundles for the outbox, a forwarder thread, node
fault control, and the end-to-end check "every reading confirmed on the node exactly once, in order per device"."""
import os
import signal
import threading
import time

from _node_helpers import address_of, data_bundle, start_node_process

from iota_edge.client import NodeClient
from iota_edge.transaction import Transaction
from simulators.broker.mosquitto import free_port  # noqa: F401  (the campaign and forwarder tests use it from here)

NINES = "9" * 2673


def bundle_hash(trytes_list):
    return Transaction.from_trytes(trytes_list[0]).bundle


def reading_bundle(device_index, seq, size=2500, timestamp=None):
    """An unattached multi-transaction data bundle (``size`` message bytes: 3 transactions for 2500). The message is
    not in the bundle hash (only the essences are), so each (device, seq) gets its own address."""
    message = (b"%d:%d:" % (device_index, seq)).ljust(size, b"r")
    return data_bundle(address_of(device_index * 1000003 + seq), message, tag="GWTEST", timestamp=timestamp)


def fill_outbox(box, devices, per_device, size=2500):
    """Put ``per_device`` bundles for each of ``devices`` devices, interleaved; returns {device: [(seq, hash)]}."""
    expected = {}
    for seq in range(per_device):
        for d in range(devices):
            trytes = reading_bundle(d, seq, size)
            h = bundle_hash(trytes)
            assert box.put("dev-%d" % d, seq, h, trytes)
            expected.setdefault("dev-%d" % d, []).append((seq, h))
    return expected


class ForwarderThread:
    """Runs Forwarder.run in a thread that opens its own Outbox on ``path`` (sqlite3 objects stay in their thread)."""

    def __init__(self, path, url, **kw):
        from iota_edge.gateway.forwarder import Forwarder

        self.forwarder = Forwarder(path, url, **kw)
        self.stop = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.forwarder.run(self.stop)
        except BaseException as e:  # reported by join(): a test must see a crashed forwarder
            self.error = e
            raise

    def __enter__(self):
        self.thread.start()
        return self

    def join(self):
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the forwarder did not stop"
        assert self.error is None, "the forwarder crashed: %r" % (self.error,)

    def __exit__(self, *exc):
        self.join()


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class NodeProcess:
    """The project's node in a subprocess on a fixed loopback port, so it can be killed and restarted under the
    same URL (a gateway keeps its node URL)."""

    def __init__(self, db, mwm=9, milestone_interval=0.3, port=None):
        self.db = str(db)
        self.mwm = mwm
        self.milestone_interval = milestone_interval
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self):
        for attempt in range(50):  # the port can be briefly unavailable right after a kill
            try:
                self.proc, url = start_node_process(self.db, self.mwm, extra=(
                    "--port", str(self.port), "--milestone-interval", str(self.milestone_interval)))
            except RuntimeError:
                time.sleep(0.1)
                continue
            assert url == self.url, url
            return self
        raise RuntimeError("the node did not start on port %d" % self.port)

    def kill(self):
        """SIGKILL: no clean shutdown, connections refused until start()."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def node_view(url, hashes):
    """{bundle hash: [(tail hash, attachment timestamp, confirmed)]} for every attachment the node holds."""
    client = NodeClient(url, retries=3)
    view = {}
    for h in hashes:
        found = client.find_transactions(bundles=[h])
        txs = [Transaction.from_trytes(t) for t in client.get_trytes(found) if t != NINES]
        tails = [tx for tx in txs if tx.current_index == 0]
        states = client.get_inclusion_states([tx.hash for tx in tails]) if tails else []
        view[h] = sorted((tx.hash, tx.attachment_timestamp, s) for tx, s in zip(tails, states))
    return view


def check_confirmed_once_in_order(url, expected, reattach_allowed=False):
    """Every expected (device, seq, bundle) is on the node and confirmed; without reattaches it was attached exactly
    once (one tail, so nothing stored twice); per device, the attachment timestamps follow seq order. Returns the
    view."""
    view = node_view(url, [h for items in expected.values() for _, h in items])
    problems = []
    for device, items in expected.items():
        last = -1
        for seq, h in sorted(items):
            attachments = view[h]
            if not attachments:
                problems.append("%s seq %d: not on the node" % (device, seq))
                continue
            if not reattach_allowed and len(attachments) != 1:
                problems.append("%s seq %d: attached %d times" % (device, seq, len(attachments)))
            confirmed = [a for a in attachments if a[2]]
            if not confirmed:
                problems.append("%s seq %d: not confirmed" % (device, seq))
                continue
            first = min(a[1] for a in confirmed)
            if first <= last:
                problems.append("%s seq %d: attached before its predecessor (%d <= %d)" % (device, seq, first, last))
            last = first
    assert not problems, "%d problem(s): %s" % (len(problems), "; ".join(problems[:10]))
    return view
