"""Memory of the gateway pipeline (outbox + forwarder + acknowledgements) stays flat: a short version of the
benchmark's 100,000-reading run (``python -m iota_edge.bench gateway`` prints the full one), at MWM 1 because what is
measured is the pipeline's own memory, not the PoW: 3,000 readings cycled from a pool of 300 bundles.

It runs in a fresh interpreter of its own, as the benchmark does: inside the test session, the RSS also holds what
earlier tests left for the allocator to hand back, and CI runs saw it climb 1.5 MiB per 1,000 readings in one run and
fall 14 MiB in another, neither of them the pipeline's."""
import json
import os
import subprocess
import sys

from _node_helpers import have_native_pow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READINGS = 3000

RUN = """
import json, os, sys, tempfile
from iota_edge.bench.gateway import make_readings, memory_run, start_node
pool = make_readings(300, devices=4)
with tempfile.TemporaryDirectory() as tmp:
    proc, url = start_node(os.path.join(tmp, "node.db"), 1, 0.3)
    try:
        samples = memory_run(pool, %d, url, 1, 2, tmp, sample_s=0.5)
    finally:
        proc.terminate()
        proc.wait(30)
print(json.dumps(samples))
""" % READINGS


def test_rss_flat_over_a_run():
    assert have_native_pow() or os.environ.get("IOTA_EDGE_PURE") == "1"
    from iota_edge.bench.gateway import slope_kib_per_1000

    out = subprocess.run([sys.executable, "-c", RUN], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    samples = [tuple(s) for s in json.loads(out.stdout.strip().splitlines()[-1])]
    assert samples[-1][1] >= READINGS and len(samples) >= 8
    second_half = [s[2] for s in samples[len(samples) // 2:]]
    growth_mib = (max(second_half) - min(second_half)) / 1048576.0
    slope = slope_kib_per_1000(samples)
    # An item's trytes are ~8 KiB: keeping one per reading would grow the second half (1,500 readings) by ~12 MiB,
    # 8000 KiB/1000. Without a leak the second half moves by 1-4 MiB (a pass's store call holds up to 0.5 MB of JSON).
    assert growth_mib < 6.0 and slope < 1000.0, (growth_mib, slope, [round(s[2] / 1048576.0, 1) for s in samples])
