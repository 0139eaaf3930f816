"""``python -m iota_edge.bench NAME [options]``: core (hashing, addresses, signing vs PyOTA and on MicroPython),
pow (Proof-of-Work search vs PyOTA's extensions), streams (MAM message cost on MicroPython) node (storeTransactions
and tip selection throughput over loopback) or gateway (readings/s through outbox and forwarder vs the PoW-bound rate;
RSS over a long run) or device (the firmware's heap per reading and send, time per reading with PoW on the gateway
and on the device, frozen code size, on the MicroPython unix port) or outbox (CPU and bytes written per reading for
each outbox call of a reading's life)."""
import sys

BENCHES = ("core", "pow", "streams", "node", "gateway", "device", "outbox")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in BENCHES:
        print("usage: python -m iota_edge.bench {%s} [--help]" % ",".join(BENCHES), file=sys.stderr)
        return 2
    name = argv.pop(0)
    if name == "core":
        from iota_edge.bench.core import main as run
    elif name == "pow":
        from iota_edge.bench.pow import main as run
    elif name == "streams":
        from iota_edge.bench.streams import main as run
    elif name == "gateway":
        from iota_edge.bench.gateway import main as run
    elif name == "device":
        from iota_edge.bench.device import main as run
    elif name == "outbox":
        from iota_edge.bench.outbox import main as run
    else:
        from iota_edge.bench.node import main as run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
