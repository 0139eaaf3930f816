"""The gateway fault campaign's parts: a fleet of simulated MQTT devices, a serial device spraying garbage, devices
that send invalid input, the gateway as a process to SIGKILL, and the node-side check "every valid reading is
confirmed exactly once, in order per device", done by scanning each device's channel addresses on the node and
opening every MAM message found there (so a reading stored twice under two bundles would be seen)."""
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as paho
from _gateway_helpers import SimDevice
from paho.mqtt.enums import CallbackAPIVersion

from iota_edge import wire
from iota_edge.client import NodeClient
from iota_edge.errors import IotaEdgeError
from iota_edge.streams.channel import channel_address
from iota_edge.streams.parser import parse_payload
from iota_edge.streams.reading import reading_from_trytes
from iota_edge.transaction import Transaction

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESEND_S = 30  # the devices' ack timeout (the firmware's uplink.ack_timeout_s): unacknowledged readings go again
ORDER_HOLD_S = 45  # the gateway's order hold here: above RESEND_S, so a resent reading is back before it runs out


class FleetDevice:
    """A device on MQTT (plain TCP, persistent session, QoS 1, fast reconnect) with its MAM channel. Keeps every
    message until it is acknowledged as confirmed (or duplicate), and sends it again when that ack has not come
    RESEND_S after its last send (``resend_due``), as the firmware does."""

    def __init__(self, port, name, password, channel=True):
        self.name = name
        self.sim = SimDevice(name) if channel else None
        self.acks = {}  # seq -> set of statuses
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="fleet-" + name, protocol=paho.MQTTv311,
                                  clean_session=False)
        self.client.username_pw_set(name, password)
        self.client.reconnect_delay_set(0.1, 1.0)
        self.client.max_queued_messages_set(0)  # unlimited: publishes made while the broker is down wait here
        self.connected = threading.Event()
        self.unacked = {}  # mid -> (seq or None, data): published, no PUBACK from the broker yet
        self.sent_at = {}  # seq -> time.monotonic() of its last send for the gateway's ack
        self.early = set()

        def on_connect(client, userdata, flags, rc, props):
            if not rc.is_failure:
                client.subscribe(wire.topics(name)[2], qos=1)
                with self.lock:  # as the firmware's store does: what the broker never took is sent again, in order
                    again = sorted(self.unacked.values(), key=lambda v: -1 if v[0] is None else v[0])
                    self.unacked.clear()
                for seq, data in again:
                    self._publish(data, seq)
                self.connected.set()

        def on_publish(client, userdata, mid, rc, props):
            with self.lock:
                if self.unacked.pop(mid, None) is None:
                    self.early.add(mid)  # the PUBACK came before _publish recorded the mid

        def on_disconnect(client, userdata, flags, rc, props):
            self.connected.clear()

        def on_message(client, userdata, msg):
            try:
                ack = wire.decode(msg.payload)
            except IotaEdgeError:  # a device ignores what it cannot read; the test checks the node
                return
            with self.lock:
                self.acks.setdefault(ack.seq, set()).add(ack.status)

        self.client.on_connect = on_connect
        self.client.on_disconnect = on_disconnect
        self.client.on_message = on_message
        self.client.on_publish = on_publish
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _publish(self, data, seq=None):
        info = self.client.publish(wire.topics(self.name)[0], data, qos=1)  # not under self.lock: paho calls
        with self.lock:                                                      # on_publish under its own lock
            if info.mid in self.early:
                self.early.discard(info.mid)
            else:
                self.unacked[info.mid] = (seq, data)

    def publish(self, data):
        self.connected.wait(30)  # while the broker is away the device keeps its readings
        self._publish(data)

    def send(self, seq):
        data = self.sim.up(seq)
        self.connected.wait(30)
        with self.lock:
            self.sent_at[seq] = time.monotonic()
        self._publish(data, seq)

    def unconfirmed(self):
        with self.lock:
            return [s for s in sorted(self.sim.sent) if not self.acks.get(s, set()) & {"confirmed", "duplicate"}]

    def resend_due(self, timeout=RESEND_S):
        """Send again (the same signed bytes, oldest first) every reading with no confirmed or duplicate ack
        ``timeout`` seconds after its last send, as the firmware's pipeline does; returns how many."""
        now = time.monotonic()
        with self.lock:
            due = sorted(s for s, at in self.sent_at.items() if now - at >= timeout
                         and not self.acks.get(s, set()) & {"confirmed", "duplicate"})
            for s in due:
                self.sent_at[s] = now
        for seq in due:
            self._publish(self.sim.sent[seq], seq)
        return len(due)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def serial_device(fd, sim, n, stop, stats, rng):
    """Send n readings over a framed link on the pty master ``fd``, spraying garbage between them; keep going
    across gateway restarts (the link retransmits); record acks in stats."""
    from iota_edge.framing import Link, LinkTimeout
    from test_framing_serial import FdStream

    acks = stats.setdefault("acks", {})

    def on_data(p):
        try:
            a = wire.decode(p)
        except IotaEdgeError:  # garbage that passed the CRC would be the gateway's bug: counted, and asserted 0
            stats["bad_acks"] = stats.get("bad_acks", 0) + 1
            return
        acks.setdefault(a.seq, set()).add(a.status)

    link = Link(FdStream(fd), on_data=on_data, window=1, timeout_ms=300, retries=10 ** 6, max_payload=16384,
                first_seq=rng.randrange(65536))
    signed = [sim.up(seq) for seq in range(n)]
    pending = list(range(n))
    sent_at = {}
    stats["garbage_bytes_sent"] = 0
    while not stop.is_set():
        if not pending and link.pending() == 0:  # as the firmware does: what was never acknowledged as on the
            now = time.monotonic()                # Tangle is sent again (the same signed bytes) after a timeout
            pending = [s for s in range(n) if not acks.get(s, set()) & {"confirmed", "duplicate"}
                       and now - sent_at.get(s, 0) > RESEND_S]
            stats["resent"] = stats.get("resent", 0) + len(pending)
        if pending and link.pending() == 0:
            seq = pending.pop(0)
            sent_at[seq] = time.monotonic()
            link.send(signed[seq])
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200)))
            os.write(fd, junk)
            stats["garbage_bytes_sent"] += len(junk)
        try:
            link.poll()
        except LinkTimeout:
            pass
        except OSError:  # the gateway's end closed while it restarts
            time.sleep(0.05)
        time.sleep(0.002)


def invalid_inputs(ghost, forger, forger_sim, rng, counts):
    """One round of invalid input: an unregistered device, a tampered MAM payload, bytes that are no message.
    ``counts`` gets the number sent per reason the gateway must count them under."""
    ghost_sim = SimDevice(ghost.name, seed="GHOST" + "9" * 76)
    seq = counts.get("round", 0)
    counts["round"] = seq + 1
    ghost.publish(ghost_sim.up(seq))
    counts["unknown_device"] = counts.get("unknown_device", 0) + 1
    if "forger_base" not in counts:  # one signed message, tampered anew each round: its leaf stays the current one
        counts["forger_base"] = forger_sim.up(0)
    up = wire.decode(counts["forger_base"])
    payload = list(up.payload)
    i = rng.randrange(len(payload) // 2)
    payload[i] = "A" if payload[i] != "A" else "B"
    forger.publish(wire.encode_up(up.device, up.seq, up.root, "".join(payload), up.mode))
    counts["signature"] = counts.get("signature", 0) + 1
    forger.publish(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64))))
    counts["malformed"] = counts.get("malformed", 0) + 1


class GatewayProcess:
    """``iota-edge gateway --config FILE`` in a subprocess (the real forwarder), its log appended to a file."""

    def __init__(self, config_path, log_path):
        self.config_path = config_path
        self.log_path = log_path
        self.proc = None
        self.kills = 0

    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "iota_edge.cli", "gateway", "--config",
                                      self.config_path], cwd=ROOT, stdout=log, stderr=log)
        log.close()
        return self

    def kill(self):
        self.proc.kill()  # SIGKILL
        self.proc.wait()
        self.kills += 1

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def scrape(port):
    """The gateway's Prometheus page as {(name, frozenset(labels)): value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = frozenset(tuple(kv.split("=", 1)) for kv in labels.rstrip("}").split(",") if kv)
        out[(name, pairs)] = float(value)
    return out


def node_readings(url, devices):
    """{device: {seq: [(bundle hash, [(tail, attachment timestamp, confirmed)])]}} of every MAM message found at the
    devices' channel addresses, opened and checked (signature included) with the same parser as the gateway."""
    client = NodeClient(url, retries=3)
    out = {}
    for dev in devices:
        roots = sorted({wire.decode(raw).root for raw in dev.sent.values()})
        address_root = {channel_address(r, dev.mode): r for r in roots}
        hashes = client.find_transactions(addresses=list(address_root))
        txs = [Transaction.from_trytes(t) for t in client.get_trytes(hashes)]
        by_bundle = {}
        for tx in txs:
            by_bundle.setdefault(tx.bundle, []).append(tx)
        tails = [tx.hash for tx in txs if tx.current_index == 0]
        confirmed = dict(zip(tails, client.get_inclusion_states(tails))) if tails else {}
        readings = out.setdefault(dev.device, {})
        for bundle, group in by_bundle.items():
            one = {}
            for tx in group:  # one attachment's transactions per current index (a reattachment repeats them)
                one.setdefault(tx.current_index, tx)
            payload = "".join(one[i].signature_message_fragment for i in sorted(one))
            parsed = parse_payload(payload, address_root[group[0].address], dev.side_key)
            reading = reading_from_trytes(parsed.message)
            attachments = sorted((tx.hash, tx.attachment_timestamp, confirmed[tx.hash])
                                 for tx in group if tx.current_index == 0)
            readings.setdefault(reading.seq, []).append((bundle, attachments, reading.device))
    return out


def check_exactly_once_in_order(url, devices, expected_seqs):
    """Every expected (device, seq) is on the node in exactly one bundle, confirmed; the first confirmed attachments
    follow seq order per device. Returns a summary (readings, attachments, reattached, out_of_order: the
    readings whose first confirmed attachment is older than their predecessor's)."""
    found = node_readings(url, devices)
    problems = []
    out_of_order = []  # returned, not asserted: the caller reports the run before asserting it
    attachments = reattached = 0
    for dev in devices:
        readings = found.get(dev.device, {})
        extra = set(readings) - set(expected_seqs[dev.device])
        if extra:
            problems.append("%s: unexpected seqs on the node %s" % (dev.device, sorted(extra)[:5]))
        last = -1
        for seq in expected_seqs[dev.device]:
            entries = readings.get(seq, [])
            if len(entries) != 1:
                problems.append("%s seq %d: in %d bundles on the node" % (dev.device, seq, len(entries)))
                continue
            bundle, atts, name = entries[0]
            if name != dev.device:
                problems.append("%s seq %d: the reading names %r" % (dev.device, seq, name))
            attachments += len(atts)
            reattached += len(atts) > 1
            ok = [a for a in atts if a[2]]
            if not ok:
                problems.append("%s seq %d: not confirmed" % (dev.device, seq))
                continue
            first = min(a[1] for a in ok)
            if first < last:
                out_of_order.append("%s seq %d: attached before seq %d's (%d attachment(s))" % (
                    dev.device, seq, seq - 1, len(atts)))
            last = first
    assert not problems, "%d problem(s): %s" % (len(problems), "; ".join(problems[:12]))
    return {"readings": sum(len(v) for v in expected_seqs.values()), "attachments": attachments,
            "reattached": reattached, "out_of_order": out_of_order}


def write_registry_config(tmp_path, broker_port, serial_url, node_url, metrics_port, devices, pw_file):
    reg = os.path.join(str(tmp_path), "devices.json")
    with open(reg, "w") as f:
        json.dump({d.device: d.registry_entry() for d in devices}, f)
    text = "\n".join([
        '[gateway]', 'id = "campaign"', 'data_dir = "data"', '',
        '[node]', 'url = "%s"' % node_url, 'mwm = 9', 'order_hold_s = %d' % ORDER_HOLD_S, '',
        '[devices]', 'registry = "devices.json"', '',
        '[metrics]', 'listen = "127.0.0.1:%d"' % metrics_port, '',
        '[log]', 'level = "%s"' % os.environ.get("CAMPAIGN_LOG_LEVEL", "warning"), '',
        '[[transports]]', 'url = "mqtt://127.0.0.1:%d"' % broker_port, 'username = "gateway"',
        'password_file = "%s"' % pw_file, '',
        '[[transports]]', 'url = "%s"' % serial_url, ''])
    path = os.path.join(str(tmp_path), "gateway.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def random_moments(rng, n, start, end):
    return sorted(rng.uniform(start, end) for _ in range(n))
