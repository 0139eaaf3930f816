"""The examples run as a user would run them and do what they say."""
import os
import subprocess
import sys


def test_energy_meter_stream_publishes_and_reads_back(root, tmp_path):
    out = subprocess.run([sys.executable, os.path.join(root, "examples/host_energy_meter_stream.py"),
                          "--state", str(tmp_path / "channel.json")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert sum(line.startswith("published reading") for line in lines) == 4
    reads = [line for line in lines if line.startswith("read: ")]
    assert len(reads) == 4 and all("meter-b12" in line and "INVALID" not in line for line in reads)
    assert (tmp_path / "channel.json").exists()  # the state was saved before signing


def _run_example(root, name, tmp_path):
    out = subprocess.run([sys.executable, os.path.join(root, "examples", name), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


def _provisioned(tmp_path, device):
    """The example's device config follows the contract, is 0600, and its registry root is the stream's root."""
    import json
    import stat

    from iota_edge.toolkit.devconfig import channel_root, load_config

    path = tmp_path / ("%s.config.json" % device)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cfg = load_config(str(path))
    registry = json.loads((tmp_path / "devices.json").read_text())
    assert registry[device]["root"] == channel_root(cfg["seed"], cfg["channel"])
    return cfg


def test_building_energy_meter_signs_batches_and_reads_them_back(root, tmp_path):
    stdout = _run_example(root, "building_energy_meter.py", tmp_path)
    cfg = _provisioned(tmp_path, "meter-b12")
    assert cfg["board"] == "ESP32_GENERIC" and cfg["channel"]["mode"] == "public"
    reads = [line for line in stdout.splitlines() if line.startswith("read: meter-b12")]
    assert len(reads) == 3 * 6 and "verified 3 of 3 messages" in stdout


def test_rooftop_solar_is_readable_with_the_side_key_only(root, tmp_path):
    stdout = _run_example(root, "rooftop_solar.py", tmp_path)
    cfg = _provisioned(tmp_path, "solar-roof-3")
    assert cfg["channel"]["mode"] == "restricted" and cfg["channel"]["side_key"]
    assert "verified 3 of 3 with the side key; 0 readable without it" in stdout
    assert cfg["channel"]["side_key"] not in stdout and cfg["seed"] not in stdout


def test_bme280_sensor_on_a_private_channel(root, tmp_path):
    stdout = _run_example(root, "bme280_sensor.py", tmp_path)
    cfg = _provisioned(tmp_path, "climate-lab-1")
    assert cfg["uplink"]["url"].startswith("mqtts://") and cfg["uplink"]["ca"] == "ca.der"
    assert "read: climate-lab-1 seq 2" in stdout and "t=21.9 Cel" in stdout and "verified 3 of 3" in stdout


def test_serial_device_behind_a_gateway_attaches_once_and_acks_the_duplicate(root, tmp_path):
    stdout = _run_example(root, "serial_device_gateway.py", tmp_path)
    cfg = _provisioned(tmp_path, "serial-pump-2")
    assert cfg["uplink"]["url"] == "serial://uart0"
    assert [l for l in stdout.splitlines() if l.startswith("device got ack")] == [
        "device got ack: seq 0 stored", "device got ack: seq 1 stored", "device got ack: seq 2 stored",
        "device got ack: seq 2 duplicate"]
    assert "attached 3, duplicates acknowledged 1, verified from the node 3" in stdout
