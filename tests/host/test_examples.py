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
