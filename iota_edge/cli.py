"""The ``iota-edge`` command line.

    iota-edge address --seed-file seed.txt --index 0 --count 3 --checksum
    iota-edge inspect bundle.txt            # decode transactions (one trytes string per line) and check the bundle
    iota-edge node --db tangle.db           # a validating legacy node with the IRI HTTP API on port 14265
    iota-edge gateway --config gw.toml      # the device gateway; `iota-edge gateway status` shows its backlog
    iota-edge bench core                    # pure-Python core vs PyOTA, and the same on MicroPython

Bad input exits with status 2 and one line that says what was wrong. Seeds are read from a file, the environment
(IOTA_EDGE_SEED) or a prompt, never from the command line, and are never printed.
"""

import argparse
import json
import os
import sys

from iota_edge.errors import IotaEdgeError


class CliError(Exception):
    """A one-line reason for a non-zero exit."""


def _read_seed(args):
    if args.seed_file:
        try:
            with open(args.seed_file) as f:
                return f.read().strip()
        except OSError as e:
            raise CliError("--seed-file: cannot read %s (%s)" % (args.seed_file, e.strerror))
    if os.environ.get("IOTA_EDGE_SEED"):
        return os.environ["IOTA_EDGE_SEED"].strip()
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("seed: ").strip()
    raise CliError("no seed: give --seed-file FILE or set IOTA_EDGE_SEED")


def cmd_address(args):
    from iota_edge.signing import generate_address

    seed = _read_seed(args)
    rows = []
    for index in range(args.index, args.index + args.count):
        address = generate_address(seed, index, args.security, checksum=args.checksum)
        rows.append({"index": index, "security": args.security, "address": address})
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print("%d\t%s" % (r["index"], r["address"]))
    return 0


def _read_trytes(path):
    return _parse_trytes(sys.stdin.read() if path == "-" else _read_file(path), path)


def _parse_trytes(text, path):
    text = text.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as e:
            raise CliError("%s: not valid JSON (%s)" % (path, e))
    else:
        items = [line.strip() for line in text.splitlines() if line.strip()]
    if not items:
        raise CliError("%s: no transaction trytes found" % path)
    return items


def _read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise CliError("%s: cannot read (%s)" % (path, e.strerror))


def _read_side_key(args):
    if not args.side_key_file:
        return None
    return _read_file(args.side_key_file).strip()


def cmd_inspect_more(args):
    """MAM messages (--root) and wire messages (anything that is not tryte text); see iota_edge.toolkit.inspect."""
    from iota_edge.toolkit import inspect as ti

    if args.file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as f:
                data = f.read()
        except OSError as e:
            raise CliError("%s: cannot read (%s)" % (args.file, e.strerror))
    side_key = _read_side_key(args)
    if args.root:
        report = ti.decode_mam(ti.payload_from_items(_read_trytes_text(data, args.file)), args.root.strip(),
                               side_key)
        report["kind"] = "mam"
        ok = report["valid"]
    else:
        report = ti.decode_wire(data, side_key)
        ok = report.get("mam", {"valid": True})["valid"]
    if args.json:
        print(json.dumps(report))
    elif args.root:
        ti.print_mam(report)
    else:
        ti.print_wire(report)
    return 0 if ok else 1


def _read_trytes_text(data, path):
    try:
        text = data.decode("ascii")
    except UnicodeError:
        raise CliError("%s: expected trytes (9A-Z) text" % path)
    return _parse_trytes(text, path)


def cmd_inspect(args):
    from iota_edge.bundle import bundle_message, decode_bundle, validate_bundle
    from iota_edge.toolkit.inspect import is_trytes_text

    if args.root or args.wire:
        return cmd_inspect_more(args)
    if args.file != "-" and os.path.isfile(args.file):
        with open(args.file, "rb") as f:
            if not is_trytes_text(f.read()):
                return cmd_inspect_more(args)   # not tryte text: a wire message (CBOR as hex, base64 or raw)
    items = _read_trytes(args.file)
    txs = decode_bundle(items)
    report = {"transactions": [tx.as_dict() for tx in txs]}
    for d in report["transactions"]:
        d["signature_message_fragment"] = d["signature_message_fragment"].rstrip("9")
    try:
        validate_bundle(items)
        report["bundle_valid"] = True
    except IotaEdgeError as e:
        report["bundle_valid"] = False
        report["bundle_error"] = {"rule": getattr(e, "rule", None), "index": getattr(e, "index", None),
                                  "message": str(e)}
    try:
        report["message"] = bundle_message(items).decode("utf-8")
    except (IotaEdgeError, UnicodeError):
        report["message"] = None
    if args.json:
        print(json.dumps(report))
        return 0 if report["bundle_valid"] else 1
    for tx in txs:
        print("%2d/%d  %s  value %d  tag %s  weight %d" % (
            tx.current_index, tx.last_index, tx.hash, tx.value, tx.tag.rstrip("9") or "-", tx.weight))
    print("bundle %s: %s" % (txs[0].bundle, "valid" if report["bundle_valid"] else
                             "INVALID (%s)" % report["bundle_error"]["message"]))
    if report["message"]:
        print("message: %s" % report["message"])
    return 0 if report["bundle_valid"] else 1


def cmd_bench(args):
    from iota_edge.bench.__main__ import main as bench_main

    return bench_main(args.rest)


def build_parser():
    p = argparse.ArgumentParser(prog="iota-edge", description="Legacy IOTA toolkit for devices, gateways and nodes.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    raw = argparse.RawDescriptionHelpFormatter
    a = sub.add_parser("address", help="derive addresses from a seed", formatter_class=raw,
                       description="Derive addresses. The seed comes from --seed-file, IOTA_EDGE_SEED or a prompt;\n"
                                   "it is never printed.",
                       epilog="Example: iota-edge address --seed-file seed.txt --count 3 --checksum")
    a.add_argument("--seed-file", help="file holding the 81-tryte seed")
    a.add_argument("--index", type=int, default=0, help="first key index (default 0)")
    a.add_argument("--count", type=int, default=1, help="how many addresses (default 1)")
    a.add_argument("--security", type=int, default=2, choices=(1, 2, 3), help="security level (default 2)")
    a.add_argument("--checksum", action="store_true", help="print 90-tryte addresses with checksum")
    a.add_argument("--json", action="store_true", help="print one JSON list")
    a.set_defaults(func=cmd_address)

    i = sub.add_parser("inspect", help="decode transactions, bundles, MAM messages and wire messages",
                       formatter_class=raw,
                       description="Decode transactions and validate the bundle with the node's rules; with --root,\n"
                                   "verify a MAM payload (or its bundle) and decode its reading; a file that is not\n"
                                   "tryte text is a device-gateway wire message (CBOR as hex, base64 or raw bytes).\n"
                                   "Exit status 1 if the bundle or message is invalid, 2 if the input cannot be read.",
                       epilog="Example: iota-edge inspect bundle.txt\n"
                              "Also:    iota-edge inspect payload.txt --root ROOT --side-key-file key.txt\n"
                              "         iota-edge inspect uplink.hex --json")
    i.add_argument("file", help="transactions (one per line, or a JSON list), a MAM payload, or a wire message; "
                                "- for stdin")
    i.add_argument("--root", help="MAM tree root (81 trytes): decode FILE as a MAM payload or its bundle")
    i.add_argument("--side-key-file", help="side key of a restricted channel")
    i.add_argument("--wire", action="store_true", help="FILE is a wire message (default: detected)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=cmd_inspect)

    try:  # the node ships in the same wheel (simulators/node); a trimmed install may leave it out
        from simulators.node.cli import add_node_command
    except ImportError:
        add_node_command = None
    if add_node_command is not None:
        add_node_command(sub)

    from iota_edge.gateway.cli import add_gateway_command  # CPython only, like the rest of this CLI
    add_gateway_command(sub)

    from iota_edge.toolkit.provision import add_provision_command
    from iota_edge.toolkit.keys import add_keys_command
    from iota_edge.toolkit.flash import add_flash_command
    from iota_edge.toolkit.demo import add_demo_command
    from iota_edge.toolkit.device import add_device_command

    add_provision_command(sub)
    add_keys_command(sub)
    add_flash_command(sub)
    add_demo_command(sub)
    add_device_command(sub)

    b = sub.add_parser("bench", help="benchmarks that measure peers in the same run", formatter_class=raw,
                       description="Benchmarks that measure their peers in the same run: core, pow, streams, node.",
                       epilog="Example: iota-edge bench core --quick")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="benchmark name and its options (core, pow, streams, node)")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (CliError, IotaEdgeError) as e:
        print("iota-edge %s: error: %s" % (args.command, e), file=sys.stderr)
        return 2


if __name__ == "__main__":  # run through the package's module, so the toolkit's CliError subclasses are the same class
    from iota_edge.cli import main as package_main

    sys.exit(package_main())
