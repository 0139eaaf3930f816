"""Command line of the node: ``iota-edge node`` (via add_node_command) or ``python -m simulators.node``.

    python -m simulators.node --port 14265 --db node.db --mwm 9 --snapshot snapshot.json --milestone-interval 5

Prints one line ``iota-edge node listening on http://HOST:PORT`` once it serves (tests read the port from it), then
runs until SIGINT or SIGTERM.
"""

import argparse
import os
import signal
import sys
import threading


def add_arguments(p):
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=14265, help="TCP port, 0 for any free one (default 14265)")
    p.add_argument("--db", default="iota-edge-node.db", help="SQLite database file (default iota-edge-node.db)")
    p.add_argument("--mwm", type=int, default=9, help="minimum weight magnitude (default 9, as IRI testnets)")
    p.add_argument("--snapshot", help="genesis balances: JSON object {address: balance}, read when --db is new")
    p.add_argument("--milestone-interval", type=float, default=5.0,
                   help="seconds between milestones, 0 for none (default 5)")
    p.add_argument("--pow-threads", type=int, default=None, help="threads for Proof-of-Work (default: all cores)")
    p.add_argument("--verbose", action="store_true", help="log every request")


def add_node_command(subparsers):
    """Register ``node`` on the ``iota-edge`` CLI's subparsers; its handler returns the exit status."""
    p = subparsers.add_parser("node", help="run a validating legacy node (IRI HTTP API) on SQLite",
                              description="A validating legacy IOTA node with the IRI 1.8.6 HTTP API, SQLite "
                                          "storage and a built-in coordinator.",
                              epilog="Example: iota-edge node --port 14265 --db node.db --snapshot snapshot.json")
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def _crash_hook():
    """Fault injection for the durability tests: IOTA_EDGE_NODE_CRASH_AFTER=N kills the process (SIGKILL) right
    after the N-th row write, that is in the middle of a storeTransactions transaction."""
    n = os.environ.get("IOTA_EDGE_NODE_CRASH_AFTER")
    if not n:
        return None
    left = [int(n)]

    def hook():
        left[0] -= 1
        if left[0] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def run(args):
    from iota_edge.errors import IotaEdgeError
    from simulators.node.server import Node

    node = Node(args.db, host=args.host, port=args.port, mwm=args.mwm, snapshot=args.snapshot,
                milestone_interval=args.milestone_interval, pow_threads=args.pow_threads, quiet=not args.verbose,
                on_insert=_crash_hook())
    try:
        node.start()
    except (OSError, IotaEdgeError) as e:
        print("iota-edge node: error: %s" % e, file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("iota-edge node listening on %s" % node.url, flush=True)
    try:
        stop.wait()
    finally:
        node.close()
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m simulators.node", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))
