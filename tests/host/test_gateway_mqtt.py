"""The gateway service over a real mosquitto (TLS, passwords, ACL) and the project's node at MWM 9.

Devices are simulated on CPython (iota_edge.streams.Channel, reading.encode_batch, wire.encode_up). Until the
forwarder lands, _gateway_helpers.MiniForwarder moves outbox items to the node.
"""
import os

import pytest

from _gateway_helpers import MiniForwarder, MqttDevice, SimDevice, wait_for, write_config
from _mosquitto import GW_PASS, GW_USER
from iota_edge.client import NodeClient
from iota_edge.gateway.config import load_config
from iota_edge.gateway.service import Gateway
from simulators.node import Node


@pytest.fixture
def node(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=9, milestone_interval=0.3, port=0) as n:
        yield n


def mqtts(broker, tmp_path, **kw):
    pw = tmp_path / "gw.pw"
    pw.write_text(GW_PASS + "\n")
    t = {"url": "mqtts://127.0.0.1:%d" % broker.tls_port, "username": GW_USER, "password_file": str(pw),
         "ca": os.path.join(broker.dir, "ca.crt")}
    t.update(kw)
    return t


def test_readings_are_confirmed_and_acknowledged_over_tls(make_broker, node, tmp_path):
    broker = make_broker(tls=True)
    dev = SimDevice("dev1")
    cfg = load_config(write_config(tmp_path, [mqtts(broker, tmp_path)], [dev], node_url=node.url))
    with Gateway(cfg, forwarder=MiniForwarder.factory) as gw:
        assert wait_for(lambda: gw.transports[0].connected, 10)
        d = MqttDevice(broker, "dev1", "devpass")
        assert d.connected.wait(10)
        for seq in range(5):
            d.publish(dev.up(seq))
        assert d.wait_acks(lambda acks: len({a.seq for a in acks if a.status == "confirmed"}) == 5, 60), d.acks
        d.publish(dev.sent[2])  # a retransmission after the ack: acknowledged again as a duplicate
        assert d.wait_acks(lambda acks: any(a.status == "duplicate" and a.seq == 2 for a in acks), 10)
        assert wait_for(lambda: gw.stats()["outbox"]["counters"]["pruned"] == 5, 5)
        d.close()
    client = NodeClient(node.url)
    hashes = client.find_transactions(tags=["IOTAEDGE" + "9" * 19])
    bundles = {t.bundle for t in map(__import__("iota_edge").Transaction.from_trytes, client.get_trytes(hashes))}
    assert len(bundles) == 5
