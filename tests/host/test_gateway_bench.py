"""``python -m iota_edge.bench gateway`` end to end on a few readings: the benchmark's pipelines must carry every
signed reading to a confirmed acknowledgement before any figure it prints means anything (its figures themselves are
not asserted: speed is the benchmark's business, not a test's)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_gateway_bench_carries_every_reading_through_both_pipelines():
    out = subprocess.run([sys.executable, "-m", "iota_edge.bench", "gateway", "--readings", "16",
                          "--memory-readings", "0", "--layout", "both", "--rounds", "2", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["ingest"]["verify_ms"] > 0 and result["ingest"]["verify_burst_ms"] > 0
    assert result["transactions_per_reading"] == 2.0  # MAM security 1 reading: signature + message, 2 fragments
    assert set(result["layouts"]) <= {"split", "shared"} and result["layouts"]
    for layout in result["layouts"].values():
        assert layout["pow_bound_per_s"] > 0 and len(layout["pow_bound_samples"]) == 5  # before, between, after
        assert len(layout["rounds"]) == 2 and layout["gateway"] in [d["gateway"] for d in layout["rounds"]]
        gw = layout["gateway"]
        assert gw["counters"]["accepted"] == 16 and gw["counters"]["duplicates"] == 0, gw["counters"]
        assert gw["rejects"] == {}
        assert set(gw["thread_cpu_seconds"]) == {"ingest", "forwarder", "pow_workers"}
        assert 0 < gw["pow_share"] < 1  # the PoW workers' CPU within the process's, verification and storage beside
        for run in (layout["outbox"], gw):
            assert 0 < run["seconds_to_stored"] <= run["seconds_to_confirmed"]
            assert run["node_cpu_seconds"] is not None
            assert run["ratio_stored"] == run["stored_per_s"] / run["pow_bound_per_s"]
            assert run["ratio_cpu"] > 0
    # each thread's own CPU clock (ns): verifying 16 signed readings shows (/proc's 10 ms ticks often read 0 for it)
    for layout in result["layouts"].values():
        assert layout["gateway"]["thread_cpu_seconds"]["ingest"] > 0, layout["gateway"]["thread_cpu_seconds"]


def test_outbox_bench_measures_every_call_of_a_readings_life():
    """``python -m iota_edge.bench outbox``: every phase costs CPU and (on Linux) writes bytes; the outbox's own
    secure_delete=FAST writes no more than SQLite's secure delete as built (Debian's: every freed page written)."""
    out = subprocess.run([sys.executable, "-m", "iota_edge.bench", "outbox", "--readings", "96", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["readings"] == 96
    phases = ("put", "attached", "stored", "confirmed", "ack_round")
    for run in result["results"].values():
        assert set(run) == set(phases) and all(run[p]["cpu_us"] > 0 for p in phases)
    if os.path.exists("/proc/self/io"):
        ours, peer = ({p: r[p]["kb_written"] for p in phases} for r in (result["results"]["outbox"],
                                                                       result["results"]["secure_delete_as_built"]))
        assert all(v > 0 for v in ours.values()) and ours["put"] == peer["put"]  # the same rows, pages and commits
        assert sum(ours.values()) <= sum(peer.values())
