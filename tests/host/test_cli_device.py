"""``iota-edge device``: the firmware on the MicroPython unix port from the command line; a second run with the same
flash file is a reboot that finds what the first stored."""
import json
import os
import subprocess
import sys
import time

import pytest

from simulators.broker.mosquitto import free_port

pytestmark = pytest.mark.micropython

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "iota_edge.cli"] + list(args), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _events_until(proc, pred, timeout=60):
    got = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        got.append(json.loads(line))
        if pred(got) or time.monotonic() > deadline:
            break
    proc.kill()
    proc.wait()
    return got


def test_device_runs_stores_while_offline_and_reboots_with_its_flash(micropython, tmp_path):
    out = subprocess.run([sys.executable, "-m", "iota_edge.cli", "provision", "meter-9", "--board", "UNIX",
                          "--uplink", "mqtt://127.0.0.1:%d" % free_port(), "--interval", "1", "--batch-max", "1",
                          "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cfg = str(tmp_path / "meter-9.config.json")
    first = _events_until(cli("device", "--config", cfg, "--readings", "3", "--json"),
                          lambda evs: sum(e["event"] == "stored" for e in evs) >= 3)
    stored = [e for e in first if e["event"] == "stored"]
    assert [e["seq"] for e in stored] == [0, 1, 2]          # signed and on flash although no broker answers
    assert os.path.exists(str(tmp_path / "meter-9.flash"))
    again = _events_until(cli("device", "--config", cfg, "--readings", "1", "--json"),
                          lambda evs: any(e["event"] == "boot" for e in evs))
    boot = [e for e in again if e["event"] == "boot"][0]
    assert boot["pending"] == 3 and boot["next_seq"] == 3    # the reboot found the three records and the seq
    assert boot["leaf"] >= 3                                 # and never signs with a used one-time key again


def test_device_bad_input_is_one_line(tmp_path):
    for args, word in ((["--config", str(tmp_path / "none.json")], "--config"),
                       (["--config", __file__, "--board", "NOPE"], "--board"),
                       (["--config", __file__, "--board", "ESP32_GENERIC"], "--board"),
                       (["--config", __file__, "--readings", "0"], "--readings")):
        p = cli("device", *args)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 2 and word in err and err.strip().count("\n") == 0, err
    p = cli("device", "--help")
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0 and "example" in out
