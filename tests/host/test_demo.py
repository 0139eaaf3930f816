"""``iota-edge demo`` end to end: node, broker, gateway and three boards on the MicroPython unix port (two on MQTT,
one on a serial pty), with an outage of the boards' uplinks; the summary is checked against the node itself."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.micropython

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def demo(*args, timeout=400):
    return subprocess.run([sys.executable, "-m", "iota_edge.cli", "demo"] + list(args), cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_the_demo_confirms_every_reading_once_across_an_outage(micropython, broker, tmp_path):
    from _mosquitto import _tool

    if broker == "mosquitto":
        _tool("mosquitto")
    out = demo("--readings", "8", "--outage", "6", "--broker", broker, "--json", "--workdir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["produced"] == 24 and summary["confirmed"] == 24
    assert summary["duplicates"] == 0 and summary["lost"] == 0 and summary["ok"] is True
    assert summary["broker"] == broker
    assert summary["buffered_max"] > 0        # the outage really held readings back on the boards
    assert summary["drain_seconds"] > 0
    assert {b["uplink"] for b in summary["boards"].values()} == {"mqtt", "serial"}
    assert "produced" in out.stderr            # the progress display


def test_bad_input_is_one_line_and_non_zero():
    out = demo("--readings", "0")
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "--readings" in out.stderr
    help_out = demo("--help")
    assert help_out.returncode == 0 and "example" in help_out.stdout
