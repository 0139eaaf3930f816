"""``iota-edge keys``: device seeds in files (0600), their channel root and address, and rotation.

    iota-edge keys new meter-7.seed                     # 81 uniform trytes from os.urandom; refuses to overwrite
    iota-edge keys show meter-7.seed --depth 4          # the first MAM tree root and its address
    iota-edge keys rotate meter-7.seed --registry devices.json --device meter-7

``rotate`` keeps the old seed as ``FILE.old`` (0600), writes a new one and, with ``--registry``, points the device's
registry entry at the new channel root. Seeds are never printed.
"""
import argparse
import json
import os

from iota_edge.errors import InvalidValue
from iota_edge.toolkit import devconfig


def _channel(args):
    side_key = None
    if args.mode == "restricted":
        if not args.side_key_file:
            raise InvalidValue("side_key: restricted mode needs --side-key-file", "side_key")
        try:
            with open(args.side_key_file) as f:
                side_key = f.read().strip()
        except OSError as e:
            raise InvalidValue("side_key: cannot read %s (%s)" % (args.side_key_file, e.strerror), "side_key")
    if not 0 <= args.depth <= 10:
        raise InvalidValue("depth: expected 0..10, got %d" % args.depth, "depth")
    return {"mode": args.mode, "side_key": side_key, "security": args.security, "depth": args.depth}


def _describe(seed_file, seed, channel):
    from iota_edge.streams import channel_address

    root = devconfig.channel_root(seed, channel)
    return {"seed_file": seed_file, "mode": channel["mode"], "security": channel["security"],
            "depth": channel["depth"], "root": root, "address": channel_address(root, channel["mode"])}


def _print(args, info):
    if args.json:
        print(json.dumps(info))
        return
    for k in ("seed_file", "old_seed_file", "mode", "security", "depth", "root", "address", "registry"):
        if info.get(k) is not None:
            print("%-13s %s" % (k, info[k]))


def cmd_new(args):
    devconfig.write_secret(args.file, devconfig.new_seed() + "\n", overwrite=args.force)
    _print(args, _describe(args.file, devconfig.read_seed(args.file), _channel(args)))
    return 0


def cmd_show(args):
    _print(args, _describe(args.file, devconfig.read_seed(args.file), _channel(args)))
    return 0


def cmd_rotate(args):
    channel = _channel(args)
    devconfig.read_seed(args.file)  # the old one must be a seed before we move it aside
    if args.registry and not args.device:
        raise InvalidValue("device: --registry needs --device", "device")
    old = args.file + ".old"
    if os.path.exists(old):
        raise InvalidValue("%s: already exists (a previous rotation; move it away first)" % old, "path")
    os.rename(args.file, old)
    devconfig.write_secret(args.file, devconfig.new_seed() + "\n")
    info = _describe(args.file, devconfig.read_seed(args.file), channel)
    info["old_seed_file"] = old
    if args.registry:
        devconfig.update_registry(args.registry, args.device, {"root": info["root"], "mode": channel["mode"],
                                                               "side_key": channel["side_key"]}, force=True)
        info["registry"] = args.registry
    _print(args, info)
    return 0


def add_keys_command(sub):
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("keys", help="make, show and rotate device seeds (files, 0600; never printed)",
                       formatter_class=raw, description=__doc__.split("\n\n")[0],
                       epilog="Example: iota-edge keys new meter-7.seed\nAlso:    iota-edge keys show meter-7.seed "
                              "--mode public --depth 4 --json\n         iota-edge keys rotate meter-7.seed "
                              "--registry devices.json --device meter-7")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    for name, func, help_ in (("new", cmd_new, "write a new seed file (0600)"),
                              ("show", cmd_show, "the channel root and address of a seed file"),
                              ("rotate", cmd_rotate, "replace a seed file, keep the old one as FILE.old")):
        q = ks.add_parser(name, help=help_, formatter_class=raw, description=help_,
                          epilog="Example: iota-edge keys %s meter-7.seed" % name)
        q.add_argument("file", help="the seed file")
        q.add_argument("--mode", default="public", choices=devconfig.MODES, help="MAM channel mode (default public)")
        q.add_argument("--side-key-file", help="side key of a restricted channel")
        q.add_argument("--security", type=int, default=1, choices=(1, 2, 3), help="security level (default 1)")
        q.add_argument("--depth", type=int, default=4, help="tree depth (default 4: 16 messages per tree)")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        if name == "new":
            q.add_argument("--force", action="store_true", help="overwrite an existing file")
        if name == "rotate":
            q.add_argument("--registry", help="devices.json whose entry for --device gets the new root")
            q.add_argument("--device", help="the device id in --registry")
        q.set_defaults(func=func)
    return p
