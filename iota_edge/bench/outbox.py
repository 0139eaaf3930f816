"""Outbox benchmark: CPU and bytes written per reading for each call of a reading's life in the gateway's outbox.

    python -m iota_edge.bench outbox                  # 1,200 readings, puts of 240, marks of 32
    python -m iota_edge.bench outbox --readings 3000 --json

Each reading is a real data bundle (``gateway.make_readings``: 2,500 message bytes, 3 transactions). It is put in
bursts of ``--burst`` (as the gateway's ingestion stores a burst), then, ``--batch`` at a time as the forwarder does:
marked attached with its attachment, stored (without the fsync), confirmed, then acknowledged and pruned in one
call (``mark_acked_many(..., prune=True)``: the gateway's ack round, one commit). Per call the
CPU of this thread (``time.thread_time``) and the bytes written (``wchar`` of ``/proc/self/io``, Linux: everything
SQLite writes, the WAL at each commit and the file at checkpoints) are summed and divided by the readings. Bytes
written matter on a Raspberry Pi's SD card.

The peer in the same run is the same outbox with SQLite's secure delete as the library was built (Debian builds it
ON: every page a prune frees is zeroed and written again); the outbox itself runs with ``secure_delete=FAST``.
"""
import argparse
import json
import os
import sys
import tempfile
import time

PHASES = ("put", "attached", "stored", "confirmed", "ack_round")


def _written():
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run(readings, burst, batch, secure_delete_as_built, directory=None):
    """{phase: (CPU us per reading, KB written per reading or None)} over ``readings`` (from make_readings)."""
    from iota_edge.gateway.outbox import ATTACHED_TRYTES, Outbox

    n = len(readings)
    cut = -ATTACHED_TRYTES  # trunk .. nonce
    attached = {h: [t[:cut] + "A" * ATTACHED_TRYTES for t in trytes] for _, _, h, trytes in readings}
    cpu = dict.fromkeys(PHASES, 0.0)
    wrote = dict.fromkeys(PHASES, 0)

    def timed(phase, call):
        w = _written()
        t = time.thread_time()
        result = call()
        cpu[phase] += time.thread_time() - t
        if w is not None:
            wrote[phase] += _written() - w
        return result

    with tempfile.TemporaryDirectory(dir=directory) as d:
        with Outbox(os.path.join(d, "outbox.db")) as box:
            if secure_delete_as_built:
                built = box._db.execute("PRAGMA compile_options").fetchall()
                box._db.execute("PRAGMA secure_delete=%d" % (("SECURE_DELETE",) in built))
            for k in range(0, n, burst):
                timed("put", lambda: box.put_many(readings[k:k + burst]))
            for k in range(0, n, batch):
                chunk = readings[k:k + batch]
                now = time.time()
                timed("attached", lambda: box.mark_many([(h, "attached", {"trytes": attached[h], "tails": ["T" * 81],
                                                                          "attached_at": now})
                                                         for _, _, h, _ in chunk]))
                timed("stored", lambda: box.mark_many([(h, "stored", {"stored_milestone": 5, "stored_at": now})
                                                       for _, _, h, _ in chunk], durable=False))
                timed("confirmed", lambda: box.mark_many([(h, "confirmed", {"milestone": 7}) for _, _, h, _ in chunk]))
                acks = {}
                for device, seq in box.to_acknowledge(len(chunk)):
                    acks.setdefault(device, []).append(seq)
                timed("ack_round", lambda: box.mark_acked_many(acks, prune=True))  # one commit, as the gateway
    known = _written() is not None
    return {p: (1e6 * cpu[p] / n, wrote[p] / n / 1024 if known else None) for p in PHASES}


def _row(values):
    return "".join("%11.1f" % v for v in values + [sum(values)])


def main(argv=None):
    from iota_edge.bench.gateway import make_readings

    ap = argparse.ArgumentParser(prog="python -m iota_edge.bench outbox", description=__doc__.split("\n\n")[0])
    ap.add_argument("--readings", type=int, default=1200, help="readings through the outbox (default 1200)")
    ap.add_argument("--burst", type=int, default=240, help="readings per put_many (default 240)")
    ap.add_argument("--batch", type=int, default=32, help="readings per mark and per ack round (default 32)")
    ap.add_argument("--dir", default=None, help="folder for the database (default: the system's temp folder)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    for name in ("readings", "burst", "batch"):
        if getattr(args, name) < 1:
            ap.error("--%s: expected an integer >= 1" % name)
    t = time.perf_counter()
    readings = make_readings(args.readings)
    if not args.json:
        print("outbox benchmark: %d readings of %d transactions (built in %.1f s), puts of %d, marks of %d" % (
            len(readings), len(readings[0][3]), time.perf_counter() - t, args.burst, args.batch))
    results = {}
    for label, as_built in (("outbox", False), ("secure_delete_as_built", True)):
        results[label] = run(readings, args.burst, args.batch, as_built, args.dir)
    if args.json:
        print(json.dumps({"readings": len(readings), "burst": args.burst, "batch": args.batch,
                          "results": {k: {p: {"cpu_us": c, "kb_written": w} for p, (c, w) in v.items()}
                                      for k, v in results.items()}}))
        return 0
    print("  per reading%s" % "".join("%11s" % p for p in PHASES + ("total",)))
    for label, title in (("outbox", "outbox (secure_delete=FAST)"), ("secure_delete_as_built",
                                                                     "SQLite's secure delete as built")):
        r = results[label]
        print("  %s" % title)
        print("    CPU us     %s" % _row([r[p][0] for p in PHASES]))
        if r["put"][1] is None:
            print("    KB written: not measured (no /proc/self/io)")
            continue
        print("    KB written %s" % _row([r[p][1] for p in PHASES]))
    a, b = results["outbox"], results["secure_delete_as_built"]
    if a["put"][1] is not None:
        total_a, total_b = sum(a[p][1] for p in PHASES), sum(b[p][1] for p in PHASES)
        print("  bytes written: %.2fx of the peer's (%.1f vs %.1f KB per reading)" % (total_a / total_b, total_a,
                                                                                      total_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
