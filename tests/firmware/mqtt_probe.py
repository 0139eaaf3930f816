"""Drive firmware/app/mqtt.py from the MicroPython unix port (or CPython) for tests/host/test_firmware_mqtt.py.

    micropython tests/firmware/mqtt_probe.py '{"url": "mqtt://127.0.0.1:1883", "device": "dev1", "password": "pw",
                                              "n": 10, "wait_msgs": 1, "deadline_ms": 10000}'

Connects, waits for the ack-topic SUBACK, publishes n QoS 1 messages ("<device>:<i>", to "topic" if given), waits
until nothing is in flight and wait_msgs messages arrived, then disconnects. One line per event on stdout:
CONNECTED <session_present>, SUBSCRIBED, PUB <pid> <i>, ACK <pid>, MSG <topic> <payload>, LINGERED <connected>
<reconnects> (after linger_ms idle), DONE <inflight> <reconnects> <messages>, or ERROR <reason> <code> <message>
(exit status 2); TIMEOUT (exit status 3).
"""
import json
import sys

_here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
sys.path.insert(0, _here + "/../..")
sys.path.insert(0, _here + "/../../firmware")

from app.mqtt import MqttClient, MqttError  # noqa: E402

try:
    from time import ticks_ms, ticks_diff, ticks_add
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


def main(cfg):
    got = []

    def on_message(topic, payload):
        got.append(payload)
        print("MSG", topic, payload.decode())

    def on_puback(pid):
        print("ACK", pid)

    cadata = None
    if cfg.get("cadata"):
        with open(cfg["cadata"], "rb") as f:
            cadata = f.read()
    try:
        c = MqttClient(cfg["url"], cfg["device"], cfg["password"], on_message=on_message, on_puback=on_puback,
                       keepalive=cfg.get("keepalive", 30), timeout_ms=cfg.get("timeout_ms", 3000),
                       backoff_base_ms=cfg.get("backoff_base_ms", 100),
                       backoff_max_ms=cfg.get("backoff_max_ms", 1000), max_inflight=cfg.get("max_inflight", 16),
                       cadata=cadata)
        c.connect()
    except MqttError as e:
        print("ERROR", e.reason, e.code, e)
        sys.exit(2)
    print("CONNECTED", int(c.session_present))
    start = ticks_ms()
    deadline = cfg.get("deadline_ms", 15000)
    interval = cfg.get("interval_ms", 0)
    n = cfg.get("n", 0)
    topic = cfg.get("topic")
    i = 0
    next_pub = start
    said_sub = False
    while ticks_diff(ticks_ms(), start) < deadline:
        if c.subscribed and not said_sub:
            said_sub = True
            print("SUBSCRIBED")
        if i < n and c.can_publish() and ticks_diff(ticks_ms(), next_pub) >= 0:
            pid = c.publish(("%s:%d" % (cfg["device"], i)).encode(), topic)
            print("PUB", pid, i)
            i += 1
            next_pub = ticks_add(ticks_ms(), interval)   # one publish per interval_ms, whatever poll returns
            c.poll(0)
            continue
        if i >= n and said_sub and not c.inflight() and len(got) >= cfg.get("wait_msgs", 0):
            linger = cfg.get("linger_ms", 0)
            t0 = ticks_ms()
            while ticks_diff(ticks_ms(), t0) < linger:
                c.poll(100)
            if linger:
                print("LINGERED", int(c.connected), c.reconnects)
            c.close()
            print("DONE", len(c.inflight()), c.reconnects, len(got))
            return
        c.poll(interval if 0 < interval < 50 and i < n else 50)
    print("TIMEOUT inflight=%r subscribed=%r connected=%r" % (c.inflight(), c.subscribed, c.connected))
    c.close()
    sys.exit(3)


try:
    main(json.loads(sys.argv[1]))
except MqttError as e:
    print("ERROR", e.reason, e.code, e)
    sys.exit(2)
