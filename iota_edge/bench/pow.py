"""PoW benchmark: our nonce search (every SIMD width, 1 and 2 threads) beside PyOTA's C extensions, in one run.

    python -m iota_edge.bench pow                 # about 3 minutes (most of it PyOTA's pyota-pow at MWM 14)
    python -m iota_edge.bench pow --quick --json

Measured in this process and in one run:
  * trials per second of the C search for each SIMD width this CPU runs, with 1 and 2 threads (MWM 243, stopped
    after --seconds by the timeout, so the figure is the kernel's own count);
  * time to a nonce at MWM 9 and MWM 14 with the default settings (widest SIMD, one thread per CPU): median, min and
    max over --transactions random transactions, every nonce checked with Curl-P-81;
  * the pure-Python search (candidates per second, measured briefly);
  * attach_to_tangle of --bundles two-transaction bundles at MWM 9, one thread, pinned to one CPU (Linux): wall,
    calling-thread CPU, process user and system time per bundle (the fixed cost around each search shows in these);
  * PyOTA's extensions from PyPI in a side venv (.oracle/pow-ext): pyota-pow (libccurl, the PoW of
    ``pow.ccurl_interface``) on the same transactions, and pyota-ccurl's C Curl for a transaction hash;
  * Kerl address generation at security 2 against PyOTA 2.1.0 (the oracle venv, tests/oracle/pyota-venv.sh).
A column that cannot run is skipped with the reason printed. Ratios are their time / our time (higher is better).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ALPHABET = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"
EXT_PACKAGES = ("pyota-pow==1.1.0", "pyota-ccurl==1.0.9")


def random_transactions(n, seed):
    rnd = random.Random(seed)
    return ["".join(rnd.choice(ALPHABET) for _ in range(2673)) for _ in range(n)]


def summary(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}


def fmt_s(s):
    return "%.1f ms" % (s * 1e3) if s < 1 else "%.2f s" % s


def ensure_ext_venv(path, install):
    """Python of the side venv with pyota-pow and pyota-ccurl, or (None, reason)."""
    python = os.path.join(path, "bin", "python")
    check = [python, "-c", "import pow, ccurl"]
    if os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0:
        return python, None
    if not install:
        return None, "side venv %s missing (run without --no-install to create it)" % path
    try:
        subprocess.run([sys.executable, "-m", "venv", path], check=True, capture_output=True, timeout=300)
        # --no-deps: both declare PyOTA as a dependency only for their Python wrappers, which are not used here.
        out = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
                             + list(EXT_PACKAGES), capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "could not create %s: %s" % (path, e)
    if out.returncode or subprocess.run(check, capture_output=True).returncode:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["import failed"]
        return None, "pip install %s failed: %s" % (" ".join(EXT_PACKAGES), tail[0])
    return python, None


def measure_rates(native, seconds, tx):
    """Trials per wall second and per CPU second (process CPU time: what each core delivered, also on a machine
    that other jobs share)."""
    rates, cpu_rates = {}, {}
    for simd in native.SIMD_WIDTHS:
        for threads in (1, 2):
            t, c = time.perf_counter(), time.process_time()
            nonce, trials = native.search(tx, 243, threads, seconds, None, simd)
            rates["%s/%d" % (simd, threads)] = trials / (time.perf_counter() - t)
            cpu_rates["%s/%d" % (simd, threads)] = trials / max(1e-9, time.process_time() - c)
    return rates, cpu_rates


def measure_time_to_nonce(txs, mwm, pow_module, weight):
    times = []
    for tx in txs:
        t = time.perf_counter()
        nonce = pow_module.search_nonce(tx, mwm)
        times.append(time.perf_counter() - t)
        assert weight(tx[:2646] + nonce) >= mwm, "invalid nonce"
    return times


def measure_pure_rate(seconds, tx):
    """Candidates per second of the pure-Python search: its cancel hook is polled once per candidate."""
    from iota_edge import pow as pow_module

    class Counter:
        n = 0
        end = time.perf_counter() + seconds

        def is_set(self):
            self.n += 1
            return time.perf_counter() >= self.end

    counter = Counter()
    t = time.perf_counter()
    pow_module._pure_search(tx, 243, None, counter)
    return (counter.n - 1) / (time.perf_counter() - t)


def measure_attach(n, seed):
    """attach_to_tangle of n two-transaction bundles at MWM 9, threads=1, on one CPU where the OS lets us pin: ms per
    bundle of wall, calling-thread CPU, process user and system time. The searches are the same from run to run
    (fixed transactions and timestamp), so runs differ only by the cost around them."""
    from iota_edge import pow as pow_module
    from iota_edge.trinary import int_to_trytes

    def tx(rnd, index):
        t = "".join(rnd.choice(ALPHABET) for _ in range(2673))
        t = t[:2268] + "9" * 27 + t[2295:]  # value 0
        return t[:2331] + int_to_trytes(index, 9) + int_to_trytes(1, 9) + t[2349:]  # current_index, last_index 1

    rnd = random.Random(seed)
    bundles = [[tx(rnd, 0), tx(rnd, 1)] for _ in range(n)]
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        pinned = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(pinned)})
    try:
        pow_module.attach_to_tangle(bundles[0], "T" * 81, "B" * 81, 9, threads=1, timestamp_ms=5)  # warm
        w, c, o = time.perf_counter(), time.thread_time(), os.times()
        for b in bundles:
            pow_module.attach_to_tangle(b, "T" * 81, "B" * 81, 9, threads=1, timestamp_ms=5)
        w, c, o1 = time.perf_counter() - w, time.thread_time() - c, os.times()
    finally:
        if pinned is not None:
            os.sched_setaffinity(0, pinned)
    return {"n": n, "pinned": pinned is not None, "wall_ms": w * 1e3 / n, "thread_cpu_ms": c * 1e3 / n,
            "user_ms": (o1.user - o.user) * 1e3 / n, "system_ms": (o1.system - o.system) * 1e3 / n}


def measure_addresses(pyota_python, n):
    from iota_edge import _native

    seed = "TESTVALUE9DONTUSEINPRODUCTION999999GFDDCPFIIEHBCWFN9KHRBEIHHREFCKBVGUGEDXCFHDFPAL"
    ours = []
    for i in range(max(n, 20)):
        t = time.perf_counter()
        _native.generate_address(seed, i, 2)
        ours.append(time.perf_counter() - t)
    result = {"ours_s": statistics.median(ours)}
    if not pyota_python or not os.path.exists(pyota_python):
        return result, "PyOTA not measured: make its venv with `bash tests/oracle/pyota-venv.sh .oracle/pyota`"
    code = (
        "import json, time, statistics\n"
        "from iota.crypto.addresses import AddressGenerator\n"
        "from iota.crypto.types import Seed\n"
        "g = AddressGenerator(Seed(%r), security_level=2, checksum=False)\n"
        "ts = []\n"
        "for i in range(%d):\n"
        "    t = time.perf_counter(); a = g.get_addresses(i, 1)[0]; ts.append(time.perf_counter() - t)\n"
        "print(json.dumps({'s': statistics.median(ts), 'first': str(a) if False else str(g.get_addresses(0, 1)[0])}))\n"
    ) % (seed, n)
    out = subprocess.run([pyota_python, "-c", code], capture_output=True, text=True, timeout=1200)
    if out.returncode:
        return result, "PyOTA address run failed: %s" % (out.stderr.strip().splitlines()[-1:] or ["?"])[0]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["first"] == _native.generate_address(seed, 0, 2), "PyOTA and iota_edge disagree on an address"
    result["pyota_s"] = data["s"]
    return result, None


def run(args):
    from iota_edge import _native, curl
    from iota_edge import pow as pow_module

    if not _native.AVAILABLE:
        print("the C kernel is not available (%s); build it with `pip install -e .`" % _native.BACKEND)
        return None
    saved = _native.AVAILABLE
    _native.AVAILABLE = False
    pure_hash = curl.curl_hash
    _native.AVAILABLE = saved

    def weight(trytes):
        return curl.trailing_zeros(_native.curl_hash(trytes, 81))

    report = {"backend": _native.BACKEND, "cpus": os.cpu_count(), "notes": []}
    notes = report["notes"]
    txs = random_transactions(args.transactions, args.seed)
    probe = txs[0]

    report["load_before"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report["rates"], report["cpu_rates"] = measure_rates(_native, args.seconds, probe)
    report["ours"] = {}
    for mwm in (9, 14):
        report["ours"][str(mwm)] = summary(measure_time_to_nonce(txs, mwm, pow_module, weight))
    report["pure_rate"] = measure_pure_rate(min(args.seconds, 2.0), probe)
    report["attach"] = measure_attach(args.bundles, args.seed)

    hash_txs = txs[:10]
    t = time.perf_counter()
    for tx in hash_txs:
        _native.curl_hash(tx, 81)
    report["hash_ours_s"] = (time.perf_counter() - t) / len(hash_txs)
    t = time.perf_counter()
    _native.AVAILABLE = False
    try:
        pure_hash(hash_txs[0], 81)
    finally:
        _native.AVAILABLE = saved
    report["hash_pure_s"] = time.perf_counter() - t

    ext_python, reason = (None, "skipped (--no-pyota)") if args.no_pyota else ensure_ext_venv(args.ext_venv, not args.no_install)
    if ext_python:
        job = {"pow": {"9": txs, "14": txs[: args.pyota_mwm14]}, "hash": hash_txs}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(job, f)
        try:
            out = subprocess.run([ext_python, os.path.join(HERE, "_timing_pyota_pow.py"), f.name], capture_output=True,
                                 text=True, timeout=3600)
        finally:
            os.unlink(f.name)
        if out.returncode:
            notes.append("pyota-pow/pyota-ccurl run failed: %s" % (out.stderr.strip().splitlines()[-1:] or ["?"])[0])
        else:
            data = json.loads(out.stdout.strip().splitlines()[-1])
            report["pyota_pow"] = {m: summary(t) for m, t in data["pow"].items()}
            for m, nonces in data["nonces"].items():
                valid = sum(weight(tx[:2646] + n) >= int(m) for tx, n in zip(job["pow"][m], nonces))
                report["pyota_pow"][m]["valid"] = valid
            # Expected candidates per nonce is 3^mwm, so sum(3^mwm) / sum(time) estimates its trial rate.
            t9 = data["pow"]["9"]
            report["pyota_pow_rate"] = 3**9 * len(t9) / sum(t9)
            report["hash_ccurl_s"] = data["ccurl_hash_s"]
    else:
        notes.append("PyOTA's extensions (%s) not measured: %s" % (", ".join(EXT_PACKAGES), reason))

    report["address"], reason = measure_addresses(args.pyota, args.addresses)
    if reason:
        notes.append(reason)
    return report


def show(report):
    print("iota_edge PoW benchmark: %s, %d CPUs" % (report["backend"], report["cpus"]))
    print()
    if report.get("load_before") is not None:
        print("load average before the run: %.2f (figures per wall second drop when other jobs share the CPUs)"
              % report["load_before"])
    print("C search, trials per second (MWM 243, stopped by timeout):          wall       per CPU-second")
    rates = report["rates"]
    best1 = max(v for k, v in rates.items() if k.endswith("/1"))
    for key, rate in rates.items():
        simd, threads = key.split("/")
        print("  %-9s %s thread%s                                     %8.2f M/s   %8.2f M/s"
              % (simd, threads, " " if threads == "1" else "s", rate / 1e6, report["cpu_rates"][key] / 1e6))
    print("  pure Python         %8.4f M/s   (C single thread, widest SIMD: %.0fx)"
          % (report["pure_rate"] / 1e6, best1 / report["pure_rate"]))
    if "pyota_pow_rate" in report:
        print("  pyota-pow (est.)    %8.4f M/s   (from its MWM 9 times: 3^9 candidates per nonce on average)"
              % (report["pyota_pow_rate"] / 1e6))
        best = max(rates.values())
        print("  ratio ours (best) / pyota-pow: %.0fx" % (best / report["pyota_pow_rate"]))
    print()
    print("Time to a nonce (default settings), median [min .. max] over n transactions:")
    for mwm in ("9", "14"):
        o = report["ours"][mwm]
        line = "  MWM %-2s ours       %9s [%s .. %s] n=%d" % (mwm, fmt_s(o["median"]), fmt_s(o["min"]), fmt_s(o["max"]),
                                                          o["n"])
        print(line)
        p = report.get("pyota_pow", {}).get(mwm)
        if p:
            print("  MWM %-2s pyota-pow  %9s [%s .. %s] n=%d (valid %d/%d)  ratio of medians %.0fx"
                  % (mwm, fmt_s(p["median"]), fmt_s(p["min"]), fmt_s(p["max"]), p["n"], p["valid"], p["n"],
                     p["median"] / o["median"]))
    a = report["attach"]
    print("  attach_to_tangle, 2-transaction bundles, MWM 9, 1 thread%s, n=%d: %.2f ms wall per bundle; CPU: calling"
          " thread %.2f, process user %.2f, system %.2f ms" % (" on one CPU" if a["pinned"] else "", a["n"],
                                                               a["wall_ms"], a["thread_cpu_ms"], a["user_ms"],
                                                               a["system_ms"]))
    print()
    print("Curl-P-81 hash of one transaction: ours %.3f ms, pure Python %.2f ms%s" % (
        report["hash_ours_s"] * 1e3, report["hash_pure_s"] * 1e3,
        (", pyota-ccurl %.3f ms (%.1fx)" % (report["hash_ccurl_s"] * 1e3, report["hash_ccurl_s"] / report["hash_ours_s"]))
        if "hash_ccurl_s" in report else ""))
    a = report["address"]
    line = "Kerl address, security 2: ours %.3f ms" % (a["ours_s"] * 1e3)
    if "pyota_s" in a:
        line += ", PyOTA 2.1.0 %.1f ms (%.0fx)" % (a["pyota_s"] * 1e3, a["pyota_s"] / a["ours_s"])
    print(line)
    for note in report["notes"]:
        print("note:", note)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m iota_edge.bench pow", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="0.5 s per rate, 100 bundles, PyOTA MWM 14 on 2 transactions")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--transactions", type=int, default=20, help="random transactions per MWM (default 20)")
    parser.add_argument("--bundles", type=int, default=400, help="bundles for the attach_to_tangle line (default 400)")
    parser.add_argument("--seconds", type=float, default=1.5, help="seconds per trials/s figure (default 1.5)")
    parser.add_argument("--pyota-mwm14", type=int, default=5,
                        help="transactions for pyota-pow at MWM 14 (about 15 s each here; default 5)")
    parser.add_argument("--addresses", type=int, default=5, help="PyOTA addresses to time (default 5)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed of the transactions")
    parser.add_argument("--ext-venv", default=os.path.join(ROOT, ".oracle", "pow-ext"),
                        help="side venv for pyota-pow and pyota-ccurl (created on demand)")
    parser.add_argument("--pyota", default=os.environ.get("IOTA_EDGE_PYOTA")
                        or os.path.join(ROOT, ".oracle", "pyota", "bin", "python"), help="python of the PyOTA oracle")
    parser.add_argument("--no-install", action="store_true", help="do not create the side venv")
    parser.add_argument("--no-pyota", action="store_true", help="skip PyOTA's extensions")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 0.5
        args.bundles = min(args.bundles, 100)
        args.pyota_mwm14 = min(args.pyota_mwm14, 2)
    report = run(args)
    if report is None:
        return 1
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
