"""Node benchmark: storeTransactions with full validation and getTransactionsToApprove, from a second process.

    python -m iota_edge.bench node                      # MWM 9, 1000 data transactions + 20 signed value bundles
    python -m iota_edge.bench node --bundles 1000 --per-call 20 --clients 4 --json

The node (simulators.node) runs in its own process on a loopback port with a fresh SQLite database; this process
prepares the load (bundles attached with iota_edge.pow), then sends it over keep-alive HTTP connections from
``--clients`` threads: one storeTransactions per bundle, every transaction checked (hash, weight, timestamps, bundle
hash, signatures, ledger). Then the same threads ask getTransactionsToApprove for ``--seconds``. Last, the Proof-of-
Work rate of one core at the same MWM: the node should validate faster than one core can attach.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NULL_HASH = "9" * 81
SEED = "BENCHNODESEED" + "9" * 68  # benchmark-only seed: holds the snapshot balances of the value bundles


def _pow():
    try:
        from iota_edge import _native, pow as pow_module
    except ImportError:
        return None, False
    return pow_module, _native.AVAILABLE


def start_node(db, mwm, snapshot):
    """``python -m simulators.node`` on a free port; returns (process, host, port)."""
    cmd = [sys.executable, "-m", "simulators.node", "--port", "0", "--db", db, "--mwm", str(mwm),
           "--milestone-interval", "0", "--snapshot", snapshot]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if "listening on http://" not in line:
        proc.kill()
        raise RuntimeError("the node did not start: %r" % line)
    host, port = line.strip().rsplit("http://", 1)[1].rsplit(":", 1)
    return proc, host, int(port)


class Connection:
    """One keep-alive HTTP connection speaking the IRI API."""

    def __init__(self, host, port):
        self.conn = http.client.HTTPConnection(host, port, timeout=120)

    def call(self, command, **params):
        params["command"] = command
        self.conn.request("POST", "/", json.dumps(params), {"Content-Type": "application/json",
                                                           "X-IOTA-API-Version": "1"})
        r = self.conn.getresponse()
        body = json.loads(r.read())
        if r.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (command, r.status, body))
        return body


def prepare_load(pow_module, mwm, bundles, bundle_size, value_bundles):
    """Attached bundles (lists of trytes) and the snapshot their inputs need; plus the PoW seconds spent."""
    from iota_edge.bundle import prepare_transfer
    from iota_edge.signing import generate_address
    from iota_edge.trinary import int_to_trytes

    message = b"n" * (1093 * bundle_size - 1)  # bundle_size transactions of 2187 trytes (two per byte)
    unattached = []
    for i in range(bundles):
        address = ("BENCH" + int_to_trytes(i, 12)).ljust(81, "9")
        unattached.append(prepare_transfer(None, [{"address": address, "message": message, "tag": "BENCH"}]))
    snapshot = {}
    for i in range(value_bundles):
        source = generate_address(SEED, i, 2)
        snapshot[source] = 1000
        target = ("PAY" + int_to_trytes(i, 12)).ljust(81, "9")
        change = ("CHANGE" + int_to_trytes(i, 12)).ljust(81, "9")
        unattached.append(prepare_transfer(SEED, [{"address": target, "value": 100}],
                                           inputs=[{"key_index": i, "balance": 1000}], remainder_address=change))
    started = time.perf_counter()
    attached = [pow_module.attach_to_tangle(b, NULL_HASH, NULL_HASH, mwm) for b in unattached]
    return attached, snapshot, time.perf_counter() - started


def _in_threads(n, work):
    errors = []

    def run(i):
        try:
            work(i)
        except Exception as e:  # reported after the run
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def measure_store(host, port, attached, clients, per_call):
    def work(i):
        c = Connection(host, port)
        mine = attached[i::clients]
        for k in range(0, len(mine), per_call):
            c.call("storeTransactions", trytes=[t for bundle in mine[k : k + per_call] for t in bundle])

    return _in_threads(clients, work)


def measure_tips(host, port, clients, seconds):
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def work(i):
        c = Connection(host, port)
        while time.perf_counter() < deadline:
            c.call("getTransactionsToApprove", depth=3)
            counts[i] += 1

    elapsed = _in_threads(clients, work)
    return sum(counts), elapsed


def measure_pow_one_core(pow_module, mwm, count):
    from iota_edge.bundle import prepare_transfer
    from iota_edge.trinary import int_to_trytes

    txs = [prepare_transfer(None, [{"address": "POW".ljust(81, "9"), "tag": int_to_trytes(i, 6)}])[0]
           for i in range(count)]
    started = time.perf_counter()
    for t in txs:
        pow_module.search_nonce(t, mwm, threads=1)
    return count / (time.perf_counter() - started)


def run(args):
    pow_module, native = _pow()
    if pow_module is None:
        print("node bench: iota_edge.pow is missing (the C kernel branch); nothing to measure", file=sys.stderr)
        return 2
    mwm = args.mwm if args.mwm is not None else (9 if native else 3)
    attached, snapshot, pow_seconds = prepare_load(pow_module, mwm, args.bundles, args.bundle_size,
                                                   args.value_bundles)
    tx_count = sum(len(b) for b in attached)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot_path = os.path.join(tmp, "snapshot.json")
        with open(snapshot_path, "w") as f:
            json.dump(snapshot, f)
        proc, host, port = start_node(os.path.join(tmp, "node.db"), mwm, snapshot_path)
        try:
            store_s = measure_store(host, port, attached, args.clients, args.per_call)
            stored = Connection(host, port).call("getNodeInfo")["tips"]
            answers, tips_s = measure_tips(host, port, args.clients, args.seconds)
        finally:
            proc.terminate()
            proc.wait(30)
    pow_rate = measure_pow_one_core(pow_module, mwm, args.pow_samples)
    result = {
        "backend": "native" if native else "pure",
        "mwm": mwm,
        "clients": args.clients,
        "bundles_per_call": args.per_call,
        "transactions": tx_count,
        "bundles": len(attached),
        "value_bundles": args.value_bundles,
        "store_tx_per_s": tx_count / store_s,
        "store_seconds": store_s,
        "tips_after_store": stored,
        "gtta_per_s": answers / tips_s,
        "pow_tx_per_s_one_core": pow_rate,
        "pow_prepare_seconds_all_cores": pow_seconds,
    }
    result["validate_vs_pow_one_core"] = result["store_tx_per_s"] / pow_rate
    if args.json:
        print(json.dumps(result))
        return 0
    print("node benchmark: %s kernel, MWM %d, %d client thread(s) over loopback, node in its own process"
          % (result["backend"], mwm, args.clients))
    print("  storeTransactions, full validation : %8.1f tx/s  (%d tx in %d bundles, %d signed, %d per call; %.2f s)"
          % (result["store_tx_per_s"], tx_count, len(attached), args.value_bundles, args.per_call, store_s))
    print("  getTransactionsToApprove          : %8.1f answers/s  (%d in %.1f s)" % (result["gtta_per_s"], answers,
                                                                                      tips_s))
    print("  PoW at MWM %d on one core          : %8.1f tx/s" % (mwm, pow_rate))
    print("  validation / one-core PoW          : %8.1fx" % result["validate_vs_pow_one_core"])
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m iota_edge.bench node", description=__doc__.splitlines()[0])
    p.add_argument("--mwm", type=int, default=None, help="node MWM (default 9; 3 without the C kernel)")
    p.add_argument("--bundles", type=int, default=1000, help="zero-value bundles to store (default 1000)")
    p.add_argument("--bundle-size", type=int, default=1, help="transactions per zero-value bundle (default 1)")
    p.add_argument("--value-bundles", type=int, default=20, help="signed value bundles to store (default 20)")
    p.add_argument("--per-call", type=int, default=1,
                   help="bundles per storeTransactions call (default 1: one commit, one fsync each)")
    p.add_argument("--clients", type=int, default=2, help="client threads (default 2)")
    p.add_argument("--seconds", type=float, default=3.0, help="getTransactionsToApprove run time (default 3)")
    p.add_argument("--pow-samples", type=int, default=100, help="transactions for the one-core PoW rate (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
