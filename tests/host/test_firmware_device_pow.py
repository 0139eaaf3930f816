"""Proof-of-Work on the device, end to end: the firmware on the MicroPython unix port (heap capped by the UNIX board
profile, Curl's viper kernel) attaches each signed message itself at MWM 9 (``pow.where: "device"``) and sends its
nonces; the real gateway (iota_edge.gateway.service.Gateway, MQTT transport, registry from iota_edge.device) rebuilds
the attached bundle from them, checks its weight and stores it; a test forwarder hands the device-attached bundle
unchanged to the project's node (simulators.node, which refuses a transaction under its MWM of 9), and the gateway's
"stored" ack frees the device's store. 10-60 s: the pure nonce search takes 3**9 tries per transaction on average,
about 4,000 a second on the unix port.
"""
import json
import os
import sys

import pytest

from _gateway_helpers import write_config as write_gateway_config
from _mosquitto import GW_PASS, GW_USER
from iota_edge.bundle import validate_bundle
from iota_edge.client import NodeClient
from iota_edge.curl import curl_hash
from iota_edge.device import device_root, registry_entry
from iota_edge.gateway.config import load_config
from iota_edge.gateway.service import Gateway
from iota_edge.transaction import Transaction

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from simulators.board import events, start_board  # noqa: E402
from simulators.node import Node  # noqa: E402

pytestmark = pytest.mark.micropython
SEED = "DEVICE9POW9TESTS" + "9" * 65
DEV, DEV_PW = "meter-9", "pw9-secret"
NINES = "9" * 81
MWM = 9


class RegisteredDevice:
    """What the gateway helpers' write_config wants of a device: its id and registry entry."""

    def __init__(self, device, config_path):
        self.device = device
        self.config_path = config_path

    def registry_entry(self):
        return registry_entry(self.config_path)


class StoreDeviceBundles:
    """A forwarder for device-attached bundles: each one goes to the node as the device attached it (no new PoW),
    then is marked stored, which makes the gateway send the device its "stored" ack."""

    def __init__(self, outbox, node_url):
        self.outbox = outbox
        self.node = NodeClient(node_url, retries=2, backoff=0.05)
        self.stored = []

    @classmethod
    def factory(cls, outbox, config, logger):
        return cls(outbox, config.node.url)

    def run(self, stop):
        while not stop.is_set():
            for item in self.outbox.next_batch("attached", 20):
                self.node.store_transactions(item.trytes)      # the node checks every transaction's weight
                self.outbox.mark(item.bundle_hash, "stored")
                self.stored.append(item)
            stop.wait(0.05)

    def stats(self):
        return {"stored": len(self.stored)}


def trailing_zero_trits(hash_trytes):
    from iota_edge.trinary import trytes_to_trits

    trits = trytes_to_trits(hash_trytes)
    n = 0
    while n < len(trits) and trits[-1 - n] == 0:
        n += 1
    return n


def test_pow_on_the_device_is_accepted_by_the_gateway_and_the_node(make_broker, tmp_path):
    broker = make_broker(users={DEV: DEV_PW})
    dev_cfg = {"device": DEV, "board": "UNIX", "seed": SEED,
               "channel": {"mode": "public", "security": 1, "depth": 2},
               "uplink": {"url": "mqtt://%s:%s@127.0.0.1:%d" % (DEV, DEV_PW, broker.port), "keepalive_s": 10,
                          "ack_timeout_s": 120},
               "pow": {"where": "device", "mwm": MWM},
               "sampling": {"interval_s": 0.002, "batch_max": 3, "batch_age_s": 60},
               "store": {"segment_bytes": 16384, "budget_bytes": 65536},
               "heartbeat_s": 5,
               "sensors": [{"driver": "sim_energy", "name": "p", "unit": "W"}]}
    dev_path = os.path.join(str(tmp_path), "device.json")
    with open(dev_path, "w") as f:
        json.dump(dev_cfg, f)
    pw = tmp_path / "gw.pw"
    pw.write_text(GW_PASS + "\n")
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.5, port=0) as node:
        gw_path = write_gateway_config(tmp_path, [{"url": "mqtt://127.0.0.1:%d" % broker.port, "username": GW_USER,
                                                   "password_file": str(pw)}],
                                       [RegisteredDevice(DEV, dev_path)], node_url=node.url,
                                       node_extra='ack_on = "stored"')
        with Gateway(load_config(gw_path), forwarder=StoreDeviceBundles.factory) as gw:
            assert gw.transports[0].wait_connected(10)
            p = start_board(dev_path, flash=str(tmp_path / "flash"), readings=3, exit_when_idle=True)
            evs = list(events(p))                      # returns once the device is idle: every record acked
            # a str message, which pytest prints whole: a list's repr is cut before the traceback's last line
            logs = [e["line"] for e in evs if e["event"] == "log"]
            assert p.wait(30) == 0, "\n".join(logs + [p.stderr.read()[-3000:]])
            stats = gw.stats()
            items = list(gw.forwarder.stored)
        stored = [e for e in evs if e["event"] == "stored"]
        acked = [e for e in evs if e["event"] == "acked"]
        assert len(stored) == 1 and stored[0]["root"] == device_root(dev_path)
        # the Up carries the attachment (trunk, branch, timestamp, a nonce per transaction), not the 2 transactions
        assert stored[0]["bytes"] < 2 * 2673
        assert [(e["seq"], e["status"]) for e in acked] == [(stored[0]["seq"], "stored")]
        assert stats["counters"]["accepted"] == 1 and not stats["rejects"], stats
        assert len(items) == 1 and items[0].info.get("device_pow") is True, items
        trytes = items[0].trytes
        validate_bundle(trytes)
        txs = [Transaction.from_trytes(t) for t in trytes]
        assert len(txs) >= 2
        head = txs[-1]
        assert head.trunk == NINES and head.branch == NINES    # no tips on a device: both are the genesis
        for i, tx in enumerate(txs):
            h = curl_hash(trytes[i], 81)
            assert tx.hash == h and trailing_zero_trits(h) >= MWM, (i, h)
            assert tx.branch == NINES and tx.tag.startswith("IOTAEDGE")
            if i < len(txs) - 1:
                assert tx.trunk == txs[i + 1].hash
        # The node refuses weight < 9: it stored every transaction as the device attached it.
        client = NodeClient(node.url)
        assert client.get_trytes([tx.hash for tx in txs]) == trytes
