"""The gateway service over a real mosquitto (TLS, passwords, ACL) and the project's node at MWM 9.

Devices are simulated on CPython (iota_edge.streams.Channel, reading.encode_batch, wire.encode_up). Until the
forwarder lands, _gateway_helpers.MiniForwarder moves outbox items to the node.
"""
import json
import os
import ssl
import threading
import time
import urllib.request

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from _gateway_helpers import MiniForwarder, MqttDevice, SimDevice, wait_for, write_config
from _mosquitto import GW_PASS, GW_USER
from iota_edge import Transaction, cli, wire
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
        assert gw.transports[0].wait_connected(10)
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
    bundles = {t.bundle for t in map(Transaction.from_trytes, client.get_trytes(hashes))}
    assert len(bundles) == 5


def ingest_only(tmp_path, broker, devices, name="gateway.toml", data_dir="data", extra="", **kw):
    return Gateway(load_config(write_config(tmp_path, [mqtts(broker, tmp_path, **kw)], devices, name=name,
                                            data_dir=data_dir, extra=extra)), forwarder=None)


def test_a_client_without_credentials_cannot_connect_and_tls_is_on(make_broker, tmp_path):
    broker = make_broker(tls=True)
    refused = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="anon", protocol=paho.MQTTv311)
    c.tls_set(ca_certs=os.path.join(broker.dir, "ca.crt"))
    c.on_connect = lambda client, u, f, rc, p: rc.is_failure and refused.set()
    c.connect("127.0.0.1", broker.tls_port)
    c.loop_start()
    try:
        assert refused.wait(10)
    finally:
        c.loop_stop()
    d = MqttDevice(broker, "dev1", "wrong-password")
    assert wait_for(lambda: d.refused is not None, 10) and not d.connected.is_set()
    d.close()
    # TLS is verified, not just on: a client that does not trust the test CA is refused by the handshake.
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="untrusting", protocol=paho.MQTTv311)
    c.tls_set(cert_reqs=ssl.CERT_REQUIRED)  # the system CAs only
    c.username_pw_set("dev1", "devpass")
    with pytest.raises(ssl.SSLError):
        c.connect("127.0.0.1", broker.tls_port)
    gw = ingest_only(tmp_path, broker, [SimDevice("dev1")])
    assert all(t.name.startswith("mqtts://") for t in gw.transports)


def test_a_device_cannot_publish_as_another_acl(make_broker, tmp_path):
    """The broker's ACL: dev2 may write only iota-edge/dev2/...; its publish to dev1's topic never arrives."""
    broker = make_broker(tls=True, verbose=True)
    dev1, dev2 = SimDevice("dev1"), SimDevice("dev2")
    with ingest_only(tmp_path, broker, [dev1, dev2]) as gw:
        assert gw.transports[0].wait_connected(10)
        d2 = MqttDevice(broker, "dev2", "dev2pass")
        assert d2.connected.wait(10)
        d2.publish(dev2.up(0, claim="dev1"), topic=wire.topics("dev1")[0]).wait_for_publish(5)
        d2.publish(dev2.up(1))  # a genuine one of its own, after it: once it is in, the forged one had its chance
        assert wait_for(lambda: gw.stats()["counters"]["accepted"] == 1, 15)
        assert gw.stats()["counters"]["ingested"] == 1
        assert "Denied PUBLISH from sim-dev2" in broker.log_all()
        d2.close()


OPEN_ACL = "user gateway\ntopic readwrite iota-edge/#\n\npattern readwrite iota-edge/#\n"


def test_a_device_cannot_publish_as_another_signature(make_broker, tmp_path):
    """With the ACL wide open, the gateway still refuses a forged device id: on another device's topic the
    signature does not lead to that device's channel; on its own topic the ids differ. Both are counted."""
    broker = make_broker(tls=True, acl=OPEN_ACL)
    dev1, dev2 = SimDevice("dev1"), SimDevice("dev2")
    with ingest_only(tmp_path, broker, [dev1, dev2]) as gw:
        assert gw.transports[0].wait_connected(10)
        d1 = MqttDevice(broker, "dev1", "devpass")
        d2 = MqttDevice(broker, "dev2", "dev2pass")
        assert d1.connected.wait(10) and d2.connected.wait(10)
        d1.publish(dev1.up(0))
        assert wait_for(lambda: gw.stats()["counters"]["accepted"] == 1, 15)
        d2.publish(dev2.up(0, claim="dev1"), topic=wire.topics("dev1")[0])   # dev1's topic, dev2's signature
        d2.publish(dev2.up(1, claim="dev1"))                                 # its own topic, claims dev1
        assert wait_for(lambda: gw.stats()["counters"]["accepted"] + sum(gw.stats()["rejects"].values()) == 3, 15)
        st = gw.stats()
        assert st["rejects"] == {"stream_position": 1, "topic_mismatch": 1}, st["rejects"]
        assert st["counters"]["accepted"] == 1
        assert wait_for(lambda: gw.stats()["outbox"]["depth"]["received"] == 1, 5)
        assert d2.wait_acks(lambda a: any(x.status == "rejected" and x.reason == "topic_mismatch" for x in a), 10)
        d1.close()
        d2.close()


def test_a_replayed_reading_is_dropped_and_counted(make_broker, tmp_path):
    broker = make_broker(tls=True)
    dev1 = SimDevice("dev1")
    with ingest_only(tmp_path, broker, [dev1]) as gw:
        assert gw.transports[0].wait_connected(10)
        d1 = MqttDevice(broker, "dev1", "devpass")
        assert d1.connected.wait(10)
        first = dev1.up(0)
        d1.publish(first)
        d1.publish(dev1.up(1))
        d1.publish(dev1.up(0))   # a new signature over seq 0 again (a later leaf): a replay, not a duplicate
        d1.publish(first)        # the very same bytes again: a duplicate, acknowledged again
        assert wait_for(lambda: gw.stats()["counters"]["duplicates"] == 1, 15)
        st = gw.stats()
        assert st["rejects"] == {"replay": 1} and st["counters"]["accepted"] == 2
        assert st["counters"]["duplicates"] == 1
        assert d1.wait_acks(lambda a: [(x.seq, x.status) for x in a] == [(0, "rejected"), (0, "duplicate")], 10)
        d1.close()


def test_a_full_outbox_pushes_back_and_a_restart_loses_nothing(make_broker, tmp_path):
    """refuse_new with room for 2: the other PUBLISHes are held without PUBACK; the gateway stops (as if it
    crashed); a new one on the same persistent session receives them again from the broker and keeps them."""
    broker = make_broker(tls=True)
    dev1 = SimDevice("dev1")
    gw = ingest_only(tmp_path, broker, [dev1], extra="\n[outbox]\nmax_items = 2\n").start()
    try:
        assert gw.transports[0].wait_connected(10)
        d1 = MqttDevice(broker, "dev1", "devpass")
        assert d1.connected.wait(10)
        for seq in range(5):
            d1.publish(dev1.up(seq))
        assert wait_for(lambda: gw.stats()["counters"]["accepted"] == 2 and
                        gw.stats()["counters"]["pushed_back"] >= 3, 15)
    finally:
        gw.stop()
    gw = ingest_only(tmp_path, broker, [dev1], name="bigger.toml").start()
    try:
        assert wait_for(lambda: (gw.stats()["outbox"] or {}).get("depth", {}).get("received") == 5, 20), gw.stats()
        assert gw.stats()["rejects"] == {}
    finally:
        gw.stop()
        d1.close()


def test_two_gateways_split_a_fleet_with_a_shared_subscription(make_broker, node, tmp_path):
    broker = make_broker(tls=True, users={"dev%d" % i: "pw%d" % i for i in range(3, 7)})
    devs = [SimDevice("dev%d" % i) for i in range(3, 7)]
    gws = []
    for k in range(2):
        path = write_config(tmp_path, [mqtts(broker, tmp_path, shared_group="fleet")], devs, node_url=node.url,
                            name="gw%d.toml" % k, data_dir="data%d" % k, gateway_id="gw%d" % k)
        gws.append(Gateway(load_config(path), forwarder=MiniForwarder.factory).start())
    try:
        for g in gws:
            assert g.transports[0].wait_connected(10)
        clients = [MqttDevice(broker, d.device, "pw" + d.device[3:]) for d in devs]
        for c in clients:
            assert c.connected.wait(10)
        n = 10
        for seq in range(n):
            for d, c in zip(devs, clients):
                c.publish(d.up(seq))
        for c in clients:
            assert c.wait_acks(lambda a: {x.seq for x in a if x.status == "confirmed"} == set(range(n)), 90), c.acks
        accepted = [g.stats()["counters"]["accepted"] for g in gws]
        assert all(a > 0 for a in accepted) and sum(accepted) == n * len(devs), accepted
        assert all(g.stats()["rejects"] == {} for g in gws)
        for c in clients:
            c.close()
    finally:
        for g in gws:
            g.stop()
    client = NodeClient(node.url)
    txs = [Transaction.from_trytes(t) for t in client.get_trytes(client.find_transactions(tags=["IOTAEDGE"]))]
    tails = {}
    for tx in txs:
        if tx.current_index == 0:
            tails[tx.bundle] = tails.get(tx.bundle, 0) + 1
    assert len(tails) == n * len(devs) and set(tails.values()) == {1}  # every reading once, none attached twice


def test_metrics_and_status(make_broker, tmp_path, capsys):
    broker = make_broker(tls=True)
    dev1 = SimDevice("dev1")
    path = write_config(tmp_path, [mqtts(broker, tmp_path)], [dev1], extra='\n[metrics]\nlisten = "127.0.0.1:0"\n')
    with Gateway(load_config(path), forwarder=None) as gw:
        assert gw.transports[0].wait_connected(10)
        d1 = MqttDevice(broker, "dev1", "devpass")
        assert d1.connected.wait(10)
        d1.publish(dev1.up(0))
        d1.publish(wire.encode_heartbeat("dev1", 0, {"pending": 3, "bytes": 900}), kind=1)
        d1.publish(b"\xff garbage")
        assert wait_for(lambda: gw.stats()["counters"]["accepted"] == 1 and gw.stats()["rejects"] and
                        gw.stats()["counters"]["heartbeats"] == 1, 15)
        assert wait_for(lambda: gw.stats()["outbox"]["depth"]["received"] == 1, 5)  # refreshed every second
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % gw.metrics_server.port, timeout=5).read()
        text = text.decode()
        for line in ('iota_edge_gateway_outbox_items{state="received"} 1',
                     'iota_edge_gateway_device_backlog{device="dev1",stat="pending"} 3',
                     'iota_edge_gateway_rejects_total{reason="malformed"} 1',
                     'iota_edge_gateway_ingested_total 3', 'iota_edge_gateway_heartbeats_total 1'):
            assert line in text, text
        assert 'iota_edge_gateway_transport_connected{transport="mqtts://127.0.0.1:%d"} 1' % broker.tls_port in text
        capsys.readouterr()
        assert cli.main(["gateway", "status", "--config", path, "--json"]) == 0  # while it runs: read-only
        report = json.loads(capsys.readouterr().out)
        assert report["depth"]["received"] == 1 and report["dead_letters"] == {"malformed": 1}
        assert report["devices"]["dev1"]["pending"] == 1
        assert report["devices"]["dev1"]["heartbeat"] == {"bytes": 900, "pending": 3}
        assert cli.main(["gateway", "status", "--db", gw.config.db_path]) == 0
        out = capsys.readouterr().out
        assert "received 1" in out and "malformed 1" in out and "pending=3" in out
        d1.close()


def test_back_pressure_recovers_as_acknowledgements_free_room(make_broker, node, tmp_path):
    """Room for 2 items: the rest waits unacknowledged at the broker, in order, and gets in as confirmed items are
    acknowledged and pruned; nothing is rejected (a reading overtaking a held one would look like a replay)."""
    broker = make_broker(tls=True)
    dev = SimDevice("dev1")
    path = write_config(tmp_path, [mqtts(broker, tmp_path)], [dev], node_url=node.url,
                        extra="\n[outbox]\nmax_items = 2\n")
    with Gateway(load_config(path), forwarder=MiniForwarder.factory) as gw:
        assert gw.transports[0].wait_connected(10)
        d = MqttDevice(broker, "dev1", "devpass")
        assert d.connected.wait(10)
        for seq in range(8):
            d.publish(dev.up(seq))
        assert d.wait_acks(lambda a: {x.seq for x in a if x.status == "confirmed"} == set(range(8)), 90), d.acks
        st = gw.stats()
        assert st["counters"]["pushed_back"] > 0 and st["rejects"] == {} and st["counters"]["accepted"] == 8
        d.close()


@pytest.mark.parametrize("form", ["bundle", "attachment"])
def test_a_device_attached_bundle_is_checked_and_kept_attached(make_broker, tmp_path, form):
    """PoW on the device, in both wire forms, seq 1 carrying what belongs to another bundle. ``bundle``: the whole
    attached bundle, checked with validate_bundle, at the channel address, carrying the verified payload; seq 1 is
    refused without advancing the device. ``attachment``: trunk, branch, timestamp and nonces; the gateway rebuilds
    the message's bundle (timestamp = the reading's) and checks every hash's weight; seq 1's nonces give none, and
    its reading, valid, is kept for the gateway's own PoW (counted), not lost."""
    from iota_edge.gateway.service import build_bundle
    from iota_edge.pow import attach_to_tangle, message_nonces
    from iota_edge.streams.channel import channel_address

    g, stamp = "9" * 81, 1700000000123
    broker = make_broker(tls=True)
    dev = SimDevice("dev1")
    with ingest_only(tmp_path, broker, [dev]) as gw:
        assert gw.transports[0].wait_connected(10)
        d = MqttDevice(broker, "dev1", "devpass")
        assert d.connected.wait(10)
        good, wrong = wire.decode(dev.up(0)), wire.decode(dev.up(1))
        if form == "bundle":  # seq 1 carries seq 0's bundle: not its verified payload
            attached = attach_to_tangle(build_bundle(good.root, good.mode, good.payload, 1700000000), g, g, 9)
            extra = [{"bundle": attached}] * 2
        else:  # both sets of nonces for a reading at 1700000000: seq 1's is at 1700000001, so its get no weight
            extra = [{"attachment": (g, g, stamp, message_nonces(channel_address(up.root, up.mode), "IOTAEDGE",
                                                                 up.payload, 1700000000, g, g, 9, stamp)[0])}
                     for up in (good, wrong)]
        for seq, up, kw in zip((0, 1), (good, wrong), extra):
            d.publish(wire.encode_up("dev1", seq, up.root, up.payload, "public", **kw))
        if form == "bundle":
            assert wait_for(lambda: gw.stats()["rejects"] == {"bundle": 1} and
                            gw.stats()["outbox"]["depth"]["attached"] == 1, 15), gw.stats()
            assert d.wait_acks(lambda a: [(x.seq, x.status, x.reason) for x in a] == [(1, "rejected", "bundle")], 10)
            d.publish(dev.up(1))  # the rejected bundle did not advance the device: its reading still gets in
        assert wait_for(lambda: gw.stats()["outbox"]["depth"]["received"] == 1 and
                        gw.stats()["outbox"]["depth"]["attached"] == 1, 15), gw.stats()
        st = gw.stats()
        assert st["counters"]["accepted"] == 2 and st["counters"]["device_pow_redone"] == (form == "attachment")
        assert st["rejects"] == ({"bundle": 1} if form == "bundle" else {}), st["rejects"]
        d.close()


def test_ack_on_stored(make_broker, tmp_path):
    """ack_on = "stored": a device hears "stored" as soon as its bundle is on the node (no milestones here)."""
    broker = make_broker(tls=True)
    dev = SimDevice("dev1")
    with Node(db=str(tmp_path / "node.db"), mwm=9, milestone_interval=0, port=0) as quiet_node:
        path = write_config(tmp_path, [mqtts(broker, tmp_path)], [dev], node_url=quiet_node.url,
                            node_extra='ack_on = "stored"')
        with Gateway(load_config(path), forwarder=MiniForwarder.factory) as gw:
            assert gw.transports[0].wait_connected(10)
            d = MqttDevice(broker, "dev1", "devpass")
            assert d.connected.wait(10)
            for seq in range(3):
                d.publish(dev.up(seq))
            assert d.wait_acks(lambda a: sorted(x.seq for x in a if x.status == "stored") == [0, 1, 2], 30), d.acks
            time.sleep(0.5)
            assert len(d.acks) == 3  # once each, not on every pass
            quiet_node.issue_milestone()
            assert d.wait_acks(lambda a: sorted(x.seq for x in a if x.status == "confirmed") == [0, 1, 2], 30)
            d.close()
