"""Memory of the gateway pipeline (outbox + forwarder + acknowledgements) stays flat: a short version of the
benchmark's 100,000-reading run (``python -m iota_edge.bench gateway`` prints the full one), at MWM 1 because what is
measured is the pipeline's own memory, not the PoW: 3,000 readings cycled from a pool of 300 bundles (with 64 PoW
jobs queued per worker, 1,500 left the second half still in the pipeline's warm-up: 1.5 MiB per 1,000 readings in a
CI run, against +7.6 KiB per 1,000 over the benchmark's 100,000)."""
import os
import tempfile

from _node_helpers import have_native_pow

from iota_edge.bench.gateway import make_readings, memory_run, slope_kib_per_1000, start_node

READINGS = 3000


def test_rss_flat_over_a_run():
    assert have_native_pow() or os.environ.get("IOTA_EDGE_PURE") == "1"
    pool = make_readings(300, devices=4)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_node(os.path.join(tmp, "node.db"), 1, 0.3)
        try:
            samples = memory_run(pool, READINGS, url, 1, 2, tmp, sample_s=0.5)
        finally:
            proc.terminate()
            proc.wait(30)
    assert samples[-1][1] >= READINGS and len(samples) >= 8
    second_half = [s[2] for s in samples[len(samples) // 2:]]
    growth_mib = (max(second_half) - min(second_half)) / 1048576.0
    slope = slope_kib_per_1000(samples)
    # An item's trytes are ~8 KiB: keeping one per reading would grow the second half (1,500 readings) by ~12 MiB,
    # 8000 KiB/1000. Without a leak the second half moves by 1-4 MiB (a pass's store call holds up to 0.5 MB of JSON).
    assert growth_mib < 6.0 and slope < 1000.0, (growth_mib, slope, [round(s[2] / 1048576.0, 1) for s in samples])
