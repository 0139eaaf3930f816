"""python -m simulators.broker --port 1883 --password-file passwd   (prints 'iota-edge broker listening on HOST:PORT')"""
import argparse
import signal
import threading

from simulators.broker import Broker


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m simulators.broker", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883, help="0 for a free port (default 1883)")
    p.add_argument("--password-file", help="mosquitto password file ($7$ lines) or user:password lines")
    args = p.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Broker(args.host, args.port, password_file=args.password_file) as b:
        print("iota-edge broker listening on %s:%d" % (args.host, b.port), flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
