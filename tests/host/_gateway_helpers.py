"""Helpers of the gateway tests: simulated devices (CPython, C kernel), a gateway config, a stand-in forwarder.

    dev = SimDevice("dev1")                     # a MAM channel; dev.up(seq) -> wire bytes of a signed reading
    cfg = write_config(tmp_path, transports=[{...}], devices=[dev])
    gw = Gateway(load_config(cfg), forwarder=MiniForwarder.factory).start()
"""
import json
import os
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from iota_edge import wire
from iota_edge.client import NodeClient
from iota_edge.streams import Channel
from iota_edge.streams.reading import encode_batch
from iota_edge.transaction import Transaction
from iota_edge.trinary import bytes_to_trytes, int_to_trytes


class SimDevice:
    """A device's MAM channel on CPython: ``up(seq)`` signs reading ``seq`` and returns the wire bytes."""

    def __init__(self, device, mode="public", side_key=None, count=16, seed=None):
        self.device = device
        self.mode = mode
        self.side_key = side_key
        seed = seed or ("SIM9" + int_to_trytes(sum(map(ord, device)) * 7919 + len(device), 12)).ljust(81, "9")
        self.channel = Channel(seed, mode=mode, side_key=side_key, security=1, count=count, next_count=count)
        self.root = self.channel.root
        self.sent = {}

    def registry_entry(self):
        return {"root": self.root, "mode": self.mode, "side_key": self.side_key}

    def up(self, seq, claim=None, timestamp=None):
        """Wire bytes of reading ``seq``; ``claim`` puts another device id in the signed reading and on the wire."""
        name = claim or self.device
        ts = 1700000000 + seq if timestamp is None else timestamp
        data = encode_batch(name, seq, [(ts, [("t", 20 + seq % 10, "Cel")])])
        m = self.channel.create_message(bytes_to_trytes(data))
        raw = wire.encode_up(name, seq, m.root, m.payload, self.mode)
        self.sent[seq] = raw
        return raw


def write_config(tmp_path, transports, devices, node_url="http://127.0.0.1:1", extra="", name="gateway.toml",
                 gateway_id="gw-test", data_dir="data", log_level="warning", node_extra=""):
    """A gateway TOML file and its devices.json under tmp_path; returns the config path."""
    reg = os.path.join(str(tmp_path), "devices.json")
    with open(reg, "w") as f:
        json.dump({d.device: d.registry_entry() for d in devices}, f)
    lines = ['[gateway]', 'id = "%s"' % gateway_id, 'data_dir = "%s"' % data_dir, '',
             '[node]', 'url = "%s"' % node_url, 'mwm = 9', node_extra, '', '[devices]', 'registry = "devices.json"', '',
             '[log]', 'level = "%s"' % log_level, '']
    for t in transports:
        lines.append("[[transports]]")
        for k, v in t.items():
            lines.append("%s = %s" % (k, json.dumps(v)))
        lines.append("")
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + extra)
    return path


class MiniForwarder:
    """Stand-in for gwb's Forwarder (same run/step/stats surface): send each received bundle to the node with local
    PoW, mark attached then stored, and mark confirmed once the node's inclusion state says so."""

    def __init__(self, outbox, node_url, mwm=9):
        self.outbox = outbox
        self.node = NodeClient(node_url, retries=2, backoff=0.05)
        self.mwm = mwm
        self.sent = 0

    @classmethod
    def factory(cls, outbox, config, logger):
        return cls(outbox, config.node.url, config.node.mwm)

    def step(self):
        work = 0
        for item in self.outbox.next_batch("received", 20):
            attached = self.node.send(item.trytes, mwm=self.mwm)
            tail = Transaction.from_trytes(attached[0]).hash
            self.outbox.mark(item.bundle_hash, "attached", trytes=attached, tail=tail)
            self.outbox.mark(item.bundle_hash, "stored")
            self.sent += 1
            work += 1
        stored = self.outbox.next_batch("stored", 200)
        if stored:
            states = self.node.get_inclusion_states([i.info["tail"] for i in stored])
            for item, ok in zip(stored, states):
                if ok:
                    self.outbox.mark(item.bundle_hash, "confirmed")
                    work += 1
        return work

    def run(self, stop):
        while not stop.is_set():
            if not self.step():
                stop.wait(0.05)

    def stats(self):
        return {"sent": self.sent, "node_up": 1}


class MqttDevice:
    """A device's MQTT client (paho, MQTT 3.1.1, persistent session): publishes ups, collects acks."""

    def __init__(self, broker, user, password, device=None, tls=True):
        self.device = device or user
        self.acks = []
        self.cond = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="sim-" + self.device,
                                  protocol=paho.MQTTv311, clean_session=False)
        self.client.username_pw_set(user, password)
        port = broker.port
        if tls:
            self.client.tls_set(ca_certs=os.path.join(broker.dir, "ca.crt"))
            port = broker.tls_port
        self.connected = threading.Event()
        self.refused = None

        def on_connect(client, userdata, flags, rc, props):
            if rc.is_failure:
                self.refused = str(rc)
                return
            client.subscribe(wire.topics(self.device)[2], qos=1)
            self.connected.set()

        def on_message(client, userdata, msg):
            with self.cond:
                self.acks.append(wire.decode(msg.payload))
                self.cond.notify_all()

        self.client.on_connect = on_connect
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def publish(self, data, topic=None, kind=0):
        info = self.client.publish(topic or wire.topics(self.device)[kind], data, qos=1)
        return info

    def wait_acks(self, pred, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.acks):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(pred, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
