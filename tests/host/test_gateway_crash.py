"""The gateway process killed with SIGKILL while a device publishes: after restarts, every reading is in the outbox
exactly once and nothing valid was rejected (PUBACK only after the outbox commit; the persistent session makes the
broker deliver the rest again)."""
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

from _gateway_helpers import MqttDevice, SimDevice, wait_for, write_config
from _mosquitto import GW_PASS, GW_USER
from iota_edge.gateway.cli import read_status

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_gateway(path):
    p = subprocess.Popen([sys.executable, "-m", "iota_edge.cli", "gateway", "--config", path, "--ingest-only"],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:  # JSON log lines at level info
        if json.loads(line)["event"] == "mqtt_connected":
            threading.Thread(target=p.stderr.read, daemon=True).start()  # keep draining
            time.sleep(0.5)  # the SUBACK follows the CONNACK
            return p
    raise AssertionError("gateway exited with %s" % p.wait())


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(make_broker, tmp_path):
    broker = make_broker(tls=True)
    pw = tmp_path / "gw.pw"
    pw.write_text(GW_PASS)
    dev = SimDevice("dev1")
    path = write_config(tmp_path, [{"url": "mqtts://127.0.0.1:%d" % broker.tls_port, "username": GW_USER,
                                    "password_file": str(pw), "ca": broker.dir + "/ca.crt"}], [dev],
                        log_level="info")
    n = 60
    ups = [dev.up(seq) for seq in range(n)]
    gw = start_gateway(path)
    d = MqttDevice(broker, "dev1", "devpass")
    assert d.connected.wait(10)
    rng = random.Random(11)
    done = threading.Event()

    def publish():
        for data in ups:
            d.publish(data)
            time.sleep(rng.uniform(0, 0.03))
        done.set()

    threading.Thread(target=publish, daemon=True).start()
    kills = 0
    try:
        while not done.is_set() or kills < 4:
            time.sleep(rng.uniform(0.05, 0.4))
            gw.kill()
            gw.wait()
            kills += 1
            gw = start_gateway(path)
        db = str(tmp_path / "data" / "outbox.db")
        assert wait_for(lambda: read_status(db)["depth"]["received"] == n, 30), read_status(db)
        report = read_status(db)
        assert report["dead_letters"] == {} and report["counters"]["put"] == n
    finally:
        gw.terminate()
        gw.wait(10)
        d.close()
    con = sqlite3.connect(db)
    seqs = [r[0] for r in con.execute("SELECT seq FROM items WHERE device = 'dev1' ORDER BY id")]
    con.close()
    assert sorted(seqs) == list(range(n))  # each once (receive order may differ after a redelivery)
