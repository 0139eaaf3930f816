"""simulators.broker: the embedded MQTT broker, driven by paho-mqtt (3.1.1 and 5), raw sockets and the device's own
MQTT client (firmware/app/mqtt.py) on the real MicroPython unix port."""
import os
import socket
import struct
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from iota_edge.toolkit.devconfig import mosquitto_password_line
from simulators.broker import Broker, topic_matches

USERS = {"gateway": "gwpass", "dev1": "devpass", "dev2": "dev2pass"}


@pytest.fixture
def broker():
    with Broker(users=USERS) as b:
        yield b


class Client:
    """A paho client on its own network thread that records what it receives."""

    def __init__(self, port, client_id, user, password, v5=False, clean=True, expiry=0):
        self.got = []
        self.connected = threading.Event()
        self.rc = None
        self.v5 = v5
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else clean)
        self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        props = None
        if v5 and expiry:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = expiry
        kw = {"clean_start": clean, "properties": props} if v5 else {}
        self.c.connect("127.0.0.1", port, keepalive=30, **kw)
        self.c.loop_start()

    def _on_connect(self, c, u, flags, rc, props=None):
        self.rc = rc
        self.session_present = flags.session_present
        self.connected.set()

    def wait(self, cond, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.02)
        return False

    def subscribe(self, filt, qos=1):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        if self.v5:
            self.c.subscribe(filt, options=SubscribeOptions(qos=qos))
        else:
            self.c.subscribe(filt, qos)
        assert done.wait(5)

    def publish(self, topic, payload, qos=1):
        self.c.publish(topic, payload, qos).wait_for_publish(5)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_topic_filters():
    assert topic_matches("iota-edge/+/up", "iota-edge/meter-7/up")
    assert not topic_matches("iota-edge/+/up", "iota-edge/meter-7/hb")
    assert topic_matches("iota-edge/#", "iota-edge/a/b/c") and topic_matches("#", "a")
    assert topic_matches("a/#", "a") and not topic_matches("a/+", "a/b/c")
    assert not topic_matches("#", "$SYS/x") and topic_matches("$SYS/#", "$SYS/x")


@pytest.mark.parametrize("v5", [False, True])
def test_qos1_publish_wildcards_and_passwords(broker, v5):
    sub = Client(broker.port, "gw", "gateway", "gwpass", v5=v5)
    assert sub.connected.wait(5) and sub.rc == 0
    sub.subscribe("iota-edge/+/up")
    pub = Client(broker.port, "dev1", "dev1", "devpass", v5=v5)
    assert pub.connected.wait(5)
    for i in range(10):
        pub.publish("iota-edge/dev1/up", b"r%d" % i)
    pub.publish("iota-edge/dev1/hb", b"not matched")
    assert sub.wait(lambda: len(sub.got) >= 10)
    time.sleep(0.1)
    assert sub.got == [("iota-edge/dev1/up", b"r%d" % i) for i in range(10)]
    bad = Client(broker.port, "dev2", "dev2", "wrong", v5=v5)
    assert bad.connected.wait(5) and bad.rc != 0
    for c in (sub, pub, bad):
        c.stop()


@pytest.mark.parametrize("v5", [False, True])
def test_persistent_session_queues_qos1_while_away(broker, v5):
    sub = Client(broker.port, "gw", "gateway", "gwpass", v5=v5, clean=False, expiry=3600)
    assert sub.connected.wait(5)
    sub.subscribe("iota-edge/#")
    sub.stop()
    pub = Client(broker.port, "dev1", "dev1", "devpass", v5=v5)
    assert pub.connected.wait(5)
    for i in range(5):
        pub.publish("iota-edge/dev1/up", b"q%d" % i)
    again = Client(broker.port, "gw", "gateway", "gwpass", v5=v5, clean=False, expiry=3600)
    assert again.connected.wait(5) and again.session_present
    assert again.wait(lambda: len(again.got) >= 5)
    assert [p for _, p in again.got] == [b"q%d" % i for i in range(5)]
    # a clean session forgets it all
    again.stop()
    pub.publish("iota-edge/dev1/up", b"lost")
    fresh = Client(broker.port, "gw", "gateway", "gwpass", v5=v5, clean=True)
    assert fresh.connected.wait(5) and not fresh.session_present
    time.sleep(0.2)
    assert fresh.got == []
    for c in (pub, fresh):
        c.stop()


def test_shared_subscription_gives_each_message_to_one_member(broker):
    members = [Client(broker.port, "gw-%d" % i, "gateway", "gwpass", v5=True, clean=False, expiry=600)
               for i in range(2)]
    for m in members:
        assert m.connected.wait(5)
        m.subscribe("$share/gateways/iota-edge/+/up")
    pub = Client(broker.port, "dev1", "dev1", "devpass", v5=True)
    assert pub.connected.wait(5)
    for i in range(20):
        pub.publish("iota-edge/dev1/up", b"%d" % i)
    assert members[0].wait(lambda: len(members[0].got) + len(members[1].got) >= 20)
    time.sleep(0.1)
    got = sorted(int(p) for m in members for _, p in m.got)
    assert got == list(range(20)) and all(len(m.got) == 10 for m in members)
    for c in members + [pub]:
        c.stop()


def _raw_connect(port, client_id, clean, keepalive=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = (b"\x00\x04MQTT\x04" + bytes([0xC0 | (0x02 if clean else 0)]) + struct.pack(">H", keepalive) +
            struct.pack(">H", len(client_id)) + client_id + b"\x00\x07gateway" + b"\x00\x06gwpass")
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4)[:2] == b"\x20\x02"
    return s


def _read_packet(s):
    head = s.recv(2)
    n = head[1]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return head[0], body


def test_unacknowledged_qos1_is_sent_again_with_dup_after_reconnect(broker):
    s = _raw_connect(broker.port, b"gw", clean=False)
    topic = b"iota-edge/dev1/up"
    s.sendall(bytes([0x82, 2 + 2 + len(topic) + 1]) + b"\x00\x01" + struct.pack(">H", len(topic)) + topic + b"\x01")
    assert _read_packet(s)[0] == 0x90
    pub = Client(broker.port, "dev1", "dev1", "devpass")
    assert pub.connected.wait(5)
    pub.publish("iota-edge/dev1/up", b"keep me")
    first, body = _read_packet(s)
    assert first == 0x32 and body.endswith(b"keep me")          # QoS 1, not acknowledged ...
    s.close()                                                    # ... and the connection drops
    s = _raw_connect(broker.port, b"gw", clean=False)
    first, again = _read_packet(s)
    assert first == 0x3A and again == body                       # DUP set, same packet id and payload
    s.sendall(b"\x40\x02" + again[2 + len(topic):4 + len(topic)])  # PUBACK
    s.close()
    s = _raw_connect(broker.port, b"gw", clean=False)
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(1)                                                # acknowledged: not sent a third time
    s.close()
    pub.stop()


def test_keepalive_drops_a_silent_client(broker):
    s = _raw_connect(broker.port, b"quiet", clean=True, keepalive=1)
    s.settimeout(5)
    t0 = time.monotonic()
    assert s.recv(1) == b""                                      # closed by the broker after 1.5 s
    assert 1.2 < time.monotonic() - t0 < 4
    s.close()


def test_mosquitto_password_file_lines(tmp_path):
    (tmp_path / "passwd").write_text(mosquitto_password_line("meter-7", "s3cret") + "\n")
    with Broker(password_file=str(tmp_path / "passwd")) as b:
        ok = Client(b.port, "meter-7", "meter-7", "s3cret")
        no = Client(b.port, "meter-7b", "meter-7", "s3cre")
        assert ok.connected.wait(5) and no.connected.wait(5)
        assert ok.rc == 0 and no.rc != 0
        ok.stop()
        no.stop()


_DEVICE = """
import sys
sys.path.insert(0, %r)
sys.path.insert(0, %r)
from app.mqtt import MqttClient
got = []
c = MqttClient("mqtt://127.0.0.1:%d", "dev1", "devpass", on_message=lambda t, p: got.append((t, p)))
c.connect()
for i in range(10):
    c.publish(b"dev1:%%d" %% i)
while c.inflight() or not c.subscribed:
    c.poll(20)
print("PUBLISHED")
while not got:
    c.poll(20)
print("GOT", got[0][0], got[0][1].decode())
c.close()
"""


@pytest.mark.micropython
def test_the_device_mqtt_client_on_micropython(broker, micropython, root):
    gw = Client(broker.port, "gw", "gateway", "gwpass", v5=True)
    assert gw.connected.wait(5)
    gw.subscribe("$share/g/iota-edge/+/up")
    p = subprocess.Popen([micropython, "-c", _DEVICE % (os.path.join(root, "firmware"), root, broker.port)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line == "PUBLISHED", line + p.stdout.read()
        assert gw.wait(lambda: len(gw.got) >= 10)
        assert sorted(gw.got) == sorted(("iota-edge/dev1/up", b"dev1:%d" % i) for i in range(10))
        gw.publish("iota-edge/dev1/ack", b"ack:9")
        out, _ = p.communicate(timeout=20)
        assert out.strip() == "GOT iota-edge/dev1/ack ack:9"
    finally:
        p.kill()
        gw.stop()
