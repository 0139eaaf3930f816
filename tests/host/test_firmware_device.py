"""The device firmware as a real process on the MicroPython unix port (simulators/board, heap capped by the UNIX
board profile) against a real mosquitto and a serial pty. The test plays the gateway: a minimal acker that decodes
each wire Up, verifies it with iota_edge.gateway.verify.Verifier against the channel root from
iota_edge.device.device_root, and acknowledges it. Needs the test extras (MicroPython unix port, paho-mqtt,
pyserial) and apt mosquitto; under CI=true anything missing fails instead of skipping.
"""
import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
import tty

import pytest

from _mosquitto import Broker, GW_PASS, GW_USER
from iota_edge import wire
from iota_edge.device import device_root, registry_entry
from iota_edge.gateway.verify import Registry, Rejected, Verifier
from iota_edge.streams.parser import parse_payload

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "firmware"))
from simulators.board import board_profile, events, start_board  # noqa: E402

pytestmark = pytest.mark.micropython
SEED = "DEVICE9FIRMWARE9TESTS9" + "9" * 59
DEV, DEV_PW = "meter-7", "pw7-secret"


def _need(what, how):
    if os.environ.get("CI") == "true":
        pytest.fail("%s is required in CI: %s" % (what, how))
    pytest.skip("%s not installed (%s)" % (what, how))


def write_config(tmp_path, url, **over):
    cfg = {"device": DEV, "board": "UNIX", "seed": SEED,
           "channel": {"mode": "public", "security": 1, "depth": 3},
           "uplink": {"url": url, "keepalive_s": 10, "ack_timeout_s": 20},
           "sampling": {"interval_s": 0.002, "batch_max": 5, "batch_age_s": 5},
           "heartbeat_s": 0.5,
           "sensors": [{"driver": "sim_energy", "name": "p", "unit": "W"}]}
    for k, v in over.items():
        cfg[k] = v
    path = os.path.join(str(tmp_path), "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


class Acker:
    """The gateway's part: verify every Up (signature, stream position, signed seq), remember it, answer an Ack."""

    def __init__(self, config_path):
        self.verifier = Verifier(Registry({DEV: registry_entry(config_path)}))
        self.accepted = []            # seq, in the order first accepted
        self.leaves = []              # (root, leaf index) of every accepted message
        self.samples = []             # every (timestamp, values) delivered
        self.duplicates = 0
        self.heartbeats = []
        self.lock = threading.Lock()

    def handle(self, data):
        """Ack bytes for an Up, None for a heartbeat."""
        msg = wire.decode(data)
        with self.lock:
            if isinstance(msg, wire.Heartbeat):
                self.heartbeats.append(msg)
                return None
            try:
                res = self.verifier.verify(msg)
            except Rejected as e:
                raise AssertionError("the device sent a message the gateway rejects: %s (%s)" % (e, e.reason))
            if hasattr(res, "reading"):
                self.accepted.append(msg.seq)
                self.leaves.append((msg.root, res.index))
                self.samples.extend(res.reading.samples)
                return wire.encode_ack(DEV, msg.seq, "stored")
            self.duplicates += 1
            return wire.encode_ack(DEV, msg.seq, "duplicate")


class MqttGateway:
    def __init__(self, broker, acker):
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            _need("paho-mqtt", "pip install paho-mqtt==2.2.0")
        self.acker = acker
        self.error = None
        ready = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-acker", clean_session=False,
                        protocol=mqtt.MQTTv311)
        c.username_pw_set(GW_USER, GW_PASS)
        c.on_connect = lambda cl, ud, fl, rc, pr: (cl.subscribe([("iota-edge/+/up", 1), ("iota-edge/+/hb", 1)]),
                                                   ready.set())
        c.on_message = self._message
        c.connect("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        assert ready.wait(5)
        time.sleep(0.2)
        self.client = c

    def _message(self, client, userdata, msg):
        try:
            ack = self.acker.handle(msg.payload)
        except AssertionError as e:
            self.error = e
            return
        if ack is not None:
            client.publish(wire.topics(DEV)[2], ack, qos=1)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def collect(proc, into, done=None):
    """Read the board's events in a thread into the list ``into``."""
    def run():
        for ev in events(proc):
            into.append(ev)
            if done is not None and done(ev):
                break
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def wait_for(pred, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return pred()
        time.sleep(0.05)
    return False


def test_device_root_is_the_root_of_the_first_message_and_config_errors(tmp_path):
    from app.config import ConfigError, from_dict

    path = write_config(tmp_path, "mqtt://%s:%s@127.0.0.1:1883" % (DEV, DEV_PW))
    raw = json.load(open(path))
    cfg = from_dict(raw, [os.path.join(ROOT, "boards")])
    assert SEED not in repr(cfg) and DEV_PW not in repr(cfg) and DEV_PW not in json.dumps(cfg.uplink)
    assert cfg.password() == DEV_PW and cfg.store["budget_bytes"] == board_profile()["defaults"]["store"]["budget_bytes"]
    root = device_root(path)
    from iota_edge.streams.channel import Channel
    assert root == Channel(SEED, "public", None, 1, 0, 8, 8).root
    bad = [({"seed": SEED[:80] + "a"}, "seed"), ({"device": "a/b"}, "device"), ({"uplink": {"url": "http://x"}},
           "uplink.url"), ({"sampling": {"batch_max": 0}}, "sampling.batch_max"), ({"pow": {"where": "cloud"}},
           "pow.where"), ({"sensors": [{"driver": "nope", "name": "x"}]}, "sensors[0].driver"),
           ({"channel": {"depth": 9}}, "channel.depth"), ({"store": {"segment_bytes": 512}}, "store.segment_bytes"),
           ({"uplink": {"url": "mqtts://h", "ca": None}}, "uplink.ca"), ({"colour": 1}, "colour"),
           ({"channel": {"mode": "restricted"}}, "channel.side_key")]
    for change, field in bad:
        r = dict(raw)
        r.update(change)
        with pytest.raises(ConfigError) as e:
            from_dict(r, [os.path.join(ROOT, "boards")])
        assert e.value.field == field, (change, e.value.field, str(e.value))
        assert SEED[:20] not in str(e.value) and DEV_PW not in str(e.value)


def test_mqtt_end_to_end_then_kill_and_reboot(make_broker, tmp_path):
    broker = make_broker(users={DEV: DEV_PW})
    path = write_config(tmp_path, "mqtt://%s:%s@127.0.0.1:%d" % (DEV, DEV_PW, broker.port))
    acker = Acker(path)
    gw = MqttGateway(broker, acker)
    flash = str(tmp_path / "flash")
    try:
        evs = []
        p = start_board(path, flash=flash, readings=40)
        collect(p, evs)
        assert wait_for(lambda: len(acker.accepted) >= 3, 60, p), (evs[-5:], p.poll(), p.stderr.read() if p.poll() is not None else "")
        p.kill()                                   # a power cut while sending
        p.wait()
        stored_before = [e for e in evs if e["event"] == "stored"]
        evs2 = []
        p2 = start_board(path, flash=flash, readings=40, exit_when_idle=True)
        collect(p2, evs2).join(120)
        assert p2.wait(10) == 0, [e["line"] for e in evs2 if e["event"] == "log"]
        assert gw.error is None, gw.error
        boot = evs2[0]
        assert boot["event"] == "boot" and boot["next_seq"] > max(e["seq"] for e in stored_before)
        stored = stored_before + [e for e in evs2 if e["event"] == "stored"]
        # Every stored message reached the gateway and verified, in seq order; no leaf was signed twice.
        assert acker.accepted == sorted(acker.accepted) == sorted(e["seq"] for e in stored)
        assert len(set(acker.leaves)) == len(acker.leaves)
        assert stored[0]["root"] == device_root(path)
        assert sum(e["samples"] for e in evs2 if e["event"] == "stored") == 40
        assert acker.heartbeats and acker.heartbeats[-1].stats["pending"] == 0
        assert [e for e in evs2 if e["event"] == "freed"][-1]["bytes"] == 0
    finally:
        gw.close()


def test_mqtts_with_the_ca_from_the_device_config(make_broker, tmp_path):
    """mqtts:// to mosquitto's TLS listener, the broker's CA (DER) named by uplink.ca in the device config: every
    message arrives and verifies. The same config with another CA is refused at the TLS handshake."""
    broker = make_broker(tls=True, users={DEV: DEV_PW})
    url = "mqtts://%s:%s@localhost:%d" % (DEV, DEV_PW, broker.tls_port)
    path = write_config(tmp_path, url, uplink={"url": url, "ca": os.path.join(broker.dir, "ca.der"),
                                               "keepalive_s": 10, "ack_timeout_s": 20})
    acker = Acker(path)
    gw = MqttGateway(broker, acker)
    try:
        evs = []
        p = start_board(path, flash=str(tmp_path / "flash"), readings=15, exit_when_idle=True)
        collect(p, evs).join(120)
        assert p.wait(10) == 0, [e["line"] for e in evs if e["event"] == "log"]
        assert gw.error is None, gw.error
        stored = [e["seq"] for e in evs if e["event"] == "stored"]
        assert stored and acker.accepted == stored and len(acker.samples) == 15
        assert acker.heartbeats
    finally:
        gw.close()
    # another CA: the device must not talk to this broker
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other",
                    "-keyout", str(other / "k.pem"), "-out", str(other / "c.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-in", str(other / "c.pem"), "-outform", "DER", "-out", str(other / "c.der")],
                   check=True, capture_output=True)
    path = write_config(tmp_path, url, uplink={"url": url, "ca": str(other / "c.der"), "keepalive_s": 10})
    evs = []
    p = start_board(path, flash=str(tmp_path / "flash2"), readings=2, exit_when_idle=True)
    try:
        collect(p, evs).join(60)
        assert p.wait(10) != 0
        text = " ".join(e.get("line", "") + json.dumps(e) for e in evs)
        assert "TLS" in text and DEV_PW not in text, evs[-5:]
        assert not [e for e in evs if e["event"] in ("sent", "acked")]
    finally:
        p.kill()


def test_outage_of_1000_readings_then_delivery_in_order(tmp_path):
    """The broker is down for 1,000 readings: all wait on flash, then all arrive in order and the store empties."""
    broker = Broker(tmp_path / "broker", users={DEV: DEV_PW}, persistence=True)
    # The acker's persistent session and subscription exist before the device can reach the broker, as a real
    # gateway's would: without it the device's first publishes after the outage could reach a broker with no
    # subscriber, be dropped, and only come back after the device's ack timeout, out of order.
    broker.start()
    MqttGateway(broker, None).close()
    broker.stop()
    path = write_config(tmp_path, "mqtt://%s:%s@127.0.0.1:%d" % (DEV, DEV_PW, broker.port),
                        sampling={"interval_s": 0.001, "batch_max": 20, "batch_age_s": 60},
                        store={"budget_bytes": 600000, "segment_bytes": 8192}, heartbeat_s=5)
    evs = []
    p = start_board(path, flash=str(tmp_path / "flash"), readings=1000, exit_when_idle=True)
    reader = collect(p, evs)
    gw = None
    try:
        assert wait_for(lambda: sum(e.get("samples", 0) for e in evs if e["event"] == "stored") >= 1000, 120, p)
        assert not [e for e in evs if e["event"] in ("sent", "acked")]
        acker = Acker(path)
        broker.start()
        gw = MqttGateway(broker, acker)
        reader.join(120)
        assert p.wait(10) == 0, [e["line"] for e in evs if e["event"] == "log"]
        assert gw.error is None, gw.error
        stored = [e["seq"] for e in evs if e["event"] == "stored"]
        assert len(stored) == 50 and acker.accepted == stored          # in order, none missing, none extra
        assert len(acker.samples) == 1000
        freed = [e["bytes"] for e in evs if e["event"] == "freed"]
        assert freed[-1] == 0 and max(freed) > 100000                   # the store shrank as the acks came
        assert not [e for e in evs if e["event"] in ("refused", "error")]
    finally:
        if gw is not None:
            gw.close()
        p.kill()
        broker.stop()


class PtyStream:
    """The gateway end of a pty for iota_edge.framing.Link: non-blocking reads, in_waiting."""

    def __init__(self, fd):
        self.fd = fd

    @property
    def in_waiting(self):
        return 4096 if select.select([self.fd], [], [], 0)[0] else 0

    def read(self, n):
        return os.read(self.fd, n)

    def write(self, data):
        os.write(self.fd, data)


def test_serial_pty_end_to_end(tmp_path):
    from iota_edge.framing import Link

    master, slave = pty.openpty()
    tty.setraw(slave)
    path = write_config(tmp_path, "serial://%s?baud=115200" % os.ttyname(slave))
    acker = Acker(path)
    out = []
    link = Link(PtyStream(master), on_data=lambda d: out.append(acker.handle(d)), window=4, timeout_ms=500,
                max_payload=8192)
    evs = []
    p = start_board(path, flash=str(tmp_path / "flash"), readings=25, exit_when_idle=True)
    reader = collect(p, evs)
    try:
        os.write(master, b"\x17garbage\x00\x55\xaa")   # line noise before the first frame: the device resyncs
        deadline = time.monotonic() + 90
        while p.poll() is None and time.monotonic() < deadline:
            link.poll()
            while out:
                ack = out.pop(0)
                if ack is not None:
                    link.send(ack)
            time.sleep(0.002)
        reader.join(5)
        assert p.wait(5) == 0, [e["line"] for e in evs if e["event"] == "log"]
        stored = [e["seq"] for e in evs if e["event"] == "stored"]
        assert acker.accepted == stored and len(acker.samples) == 25
        assert acker.heartbeats
    finally:
        p.kill()
        os.close(master)
        os.close(slave)
