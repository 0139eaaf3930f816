"""The gateway fault campaign (issue #7's bar), all faults in one run against the real mosquitto and the project's
node at MWM 9, the gateway as a process (real forwarder, PoW on the gateway):

* the node killed (SIGKILL) and kept down for CAMPAIGN_NODE_DOWN_S (120) seconds, and longer if needed until at least
  CAMPAIGN_WAITING (5000) readings wait in the outbox; then restarted on the same database and port;
* the broker restarted 5 times (SIGTERM, persistence on) while the node is down;
* the gateway SIGKILLed 20 times at random moments spread over the whole run, restarted at once;
* a serial device on a pty pair whose line carries garbage between frames, the whole time;
* invalid input the whole time: an unregistered device, tampered MAM payloads, bytes that are no message.

The devices act as the firmware does: what the gateway has not acknowledged (confirmed or duplicate) RESEND_S (30)
seconds after it was sent is sent again, and the gateway holds a device's reading back while a lower seq of that
device is missing, for up to ORDER_HOLD_S (45) seconds from its receipt, so a reading that reaches it late (a resend
after a broker restart or a gateway kill) still goes before the newer ones.

Then: every valid reading (the MQTT fleet's and the serial device's) is on the node in exactly one bundle, confirmed
(found by scanning the channel addresses and opening every MAM message there), and attached in seq order per device
(its first confirmed attachment no older than its predecessor's); nothing valid was rejected; every invalid input is
counted by its reason in the outbox's reject counters.

Faults run concurrently (the broker restarts and most gateway kills during the node's downtime), so the run takes
about the node's downtime plus the time to attach the backlog: about 4 minutes on 2 cores. CAMPAIGN_* environment
variables scale it down for a quick local look (CAMPAIGN_LOG_LEVEL=debug logs every accepted reading to
gateway.log); CI runs the defaults.
"""
import os
import random
import threading
import time
import tty

from _campaign import (FleetDevice, GatewayProcess, check_exactly_once_in_order, invalid_inputs, random_moments,
                       scrape, serial_device, write_registry_config)
from _forwarder_helpers import NodeProcess, free_port
from _gateway_helpers import SimDevice
from _mosquitto import GW_PASS, GW_USER  # noqa: F401  (make_broker is the fixture)
from _mosquitto import make_broker  # noqa: F401

from iota_edge.gateway.cli import read_status

NODE_DOWN_S = float(os.environ.get("CAMPAIGN_NODE_DOWN_S", 120))
WAITING = int(os.environ.get("CAMPAIGN_WAITING", 5000))
DEVICES = 8
SERIAL_READINGS = 40
BROKER_RESTARTS = 5
GATEWAY_KILLS = 20
RATE = WAITING / (0.8 * NODE_DOWN_S)  # readings per second of the fleet, so the backlog is there in time
DRAIN_S = 420


def wait_subscribed(metrics_port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            up = [v for (name, labels), v in scrape(metrics_port).items() if name.endswith("transport_connected")]
        except OSError:  # not listening yet
            up = []
        if up and all(up):
            time.sleep(0.5)  # the SUBACK follows the CONNACK
            return
        time.sleep(0.1)
    raise AssertionError("the gateway did not connect its transports in %d s" % timeout)


def test_fault_campaign(make_broker, tmp_path):  # noqa: F811
    rng = random.Random(int(os.environ.get("IOTA_EDGE_CAMPAIGN_SEED", "7")))
    users = {"dev-%d" % i: "pw%d" % i for i in range(DEVICES)}
    users.update({"ghost": "ghostpw", "forger": "forgerpw"})
    broker = make_broker(persistence=True, users=users)
    node = NodeProcess(tmp_path / "node.db", mwm=9, milestone_interval=0.5).start()
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    fleet = []
    others = []
    gw = None
    stop = threading.Event()
    threads = []
    try:
        serial_sim = SimDevice("uart-1")
        forger_sim = SimDevice("forger")
        sims = [SimDevice("dev-%d" % i) for i in range(DEVICES)]
        pw = tmp_path / "gw.pw"
        pw.write_text(GW_PASS)
        metrics_port = free_port()
        config = write_registry_config(tmp_path, broker.port, "serial://%s?baud=115200" % os.ttyname(slave),
                                       node.url, metrics_port, sims + [serial_sim, forger_sim], str(pw))
        db = str(tmp_path / "data" / "outbox.db")
        gw = GatewayProcess(config, str(tmp_path / "gateway.log")).start()
        wait_subscribed(metrics_port)  # a first publish before the gateway's session exists would go nowhere
        for sim in sims:
            d = FleetDevice(broker.port, sim.device, users[sim.device], channel=False)
            d.sim = sim
            fleet.append(d)
        ghost = FleetDevice(broker.port, "ghost", "ghostpw", channel=False)
        forger = FleetDevice(broker.port, "forger", "forgerpw", channel=False)
        others += [ghost, forger]
        for d in fleet + others:
            assert d.connected.wait(20), d.name

        sent = {"n": 0}
        invalid = {}
        serial_stats = {}

        def produce():  # the fleet, round robin, at RATE readings per second, plus a round of invalid input now and then
            seq = 0
            started = time.monotonic()
            while not stop.is_set() and sent["n"] < WAITING + 200:
                for d in fleet:
                    d.send(seq)
                    sent["n"] += 1
                seq += 1
                if seq % 25 == 0:
                    invalid_inputs(ghost, forger, forger_sim, rng, invalid)
                ahead = sent["n"] / RATE - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)

        resent = {"n": 0}

        def resend():  # the fleet's ack timeout, the whole run (the serial device keeps its own)
            while not stop.wait(1.0):
                for d in fleet:
                    resent["n"] += d.resend_due()

        threads.append(threading.Thread(target=produce, daemon=True))
        threads.append(threading.Thread(target=resend, daemon=True))
        threads.append(threading.Thread(target=serial_device, args=(master, serial_sim, SERIAL_READINGS, stop,
                                                                     serial_stats, random.Random(3)), daemon=True))
        for t in threads:
            t.start()

        t0 = time.monotonic()
        time.sleep(3)
        node.kill()
        down_at = time.monotonic()
        kill_times = random_moments(rng, GATEWAY_KILLS - 6, 4, NODE_DOWN_S)
        restart_times = [NODE_DOWN_S * (i + 1) / (BROKER_RESTARTS + 1) for i in range(BROKER_RESTARTS)]
        events = sorted([(t, "kill") for t in kill_times] + [(t, "broker") for t in restart_times])
        for at, what in events:
            time.sleep(max(0.0, down_at + at - time.monotonic()))
            if what == "kill":
                gw.kill()
                gw.start()
            else:
                broker.stop()
                time.sleep(0.3)
                broker.start()
        waiting = 0
        while True:  # down at least NODE_DOWN_S, and until the backlog is there
            if gw.alive():
                waiting = read_status(db)["depth"]["received"] if os.path.exists(db) else 0
            if time.monotonic() - down_at >= NODE_DOWN_S and waiting >= WAITING:
                break
            assert time.monotonic() - down_at < NODE_DOWN_S + 240, "backlog only %d after %.0f s" % (
                waiting, time.monotonic() - down_at)
            time.sleep(1)
        downtime = time.monotonic() - down_at
        node.start()
        up_at = time.monotonic()

        for at in random_moments(rng, 6, 2, 60):  # the rest of the kills while the backlog drains
            time.sleep(max(0.0, up_at + at - time.monotonic()))
            gw.kill()
            gw.start()
        assert gw.kills == GATEWAY_KILLS

        deadline = time.monotonic() + DRAIN_S
        threads[0].join(60)  # the fleet's producer has sent all its readings by now
        total = sent["n"] + SERIAL_READINGS
        while True:
            missing = sum(len(d.unconfirmed()) for d in fleet)
            serial_done = {s for s, st in serial_stats.get("acks", {}).items() if st & {"confirmed", "duplicate"}}
            depth = read_status(db)
            if (missing == 0 and len(serial_done) == SERIAL_READINGS and depth["counters"]["put"] == total
                    and depth["depth"]["received"] + depth["depth"]["attached"] + depth["depth"]["stored"] == 0):
                break
            assert time.monotonic() < deadline, "after %d s: %d fleet readings unconfirmed, serial %d/%d, %r" % (
                DRAIN_S, missing, len(serial_done), SERIAL_READINGS, read_status(db)["depth"])
            time.sleep(1)
        drain = time.monotonic() - up_at

        stop.set()
        for t in threads:
            t.join(10)
        # garbage counters live in the gateway process (the last one started after the serial device finished):
        # one more burst of garbage on the line must be counted by it
        wait_subscribed(metrics_port)
        junk = bytes(rng.getrandbits(8) for _ in range(512))
        os.write(master, junk)
        deadline = time.monotonic() + 20
        while True:
            metrics = scrape(metrics_port)
            garbage = sum(v for (name, labels), v in metrics.items() if name.endswith("transport_events_total")
                          and dict(labels).get("event") in ('"garbage_bytes"', '"bad_crc"', '"too_long"'))
            if garbage > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert garbage > 0 and serial_stats.get("bad_acks", 0) == 0
        status = read_status(db)
        expected = {d.sim.device: sorted(d.sim.sent) for d in fleet}
        expected[serial_sim.device] = list(range(SERIAL_READINGS))
        summary = check_exactly_once_in_order(node.url, [d.sim for d in fleet] + [serial_sim], expected)

        # nothing valid rejected; every invalid input counted by its reason (a redelivery after a kill may count
        # one twice: at least once, and no other reason)
        rejects = status["dead_letters"]
        assert set(rejects) == {"unknown_device", "signature", "malformed"}, rejects
        for reason in ("unknown_device", "signature", "malformed"):
            assert rejects[reason] >= invalid[reason], (reason, rejects, invalid)
        assert status["counters"]["put"] == sum(len(v) for v in expected.values())  # each valid reading once
        with open(str(tmp_path / "gateway.log")) as f:  # every gateway process's warnings
            skipped = sum('"order_gap_skipped"' in line for line in f)
        print("campaign: %d readings confirmed once (%d attachments, %d reattached, %d attached after a newer one); "
              "node down %.0f s with %d waiting; %d broker restarts, %d gateway kills; %d fleet resends, %d order "
              "holds run out; drained in %.0f s; rejects %r; total %.0f s" % (
                  summary["readings"], summary["attachments"], summary["reattached"], len(summary["out_of_order"]),
                  downtime, waiting, BROKER_RESTARTS, gw.kills, resent["n"], skipped, drain, rejects,
                  time.monotonic() - t0))
        assert not summary["out_of_order"], "%d of %d readings attached after a newer reading of their device: %s" % (
            len(summary["out_of_order"]), summary["readings"], "; ".join(summary["out_of_order"][:10]))
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        for d in fleet + others:
            d.close()
        if gw is not None:
            gw.stop()
        node.kill()
        os.close(master)
        os.close(slave)
