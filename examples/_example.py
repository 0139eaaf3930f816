"""Shared pieces of the use-case examples: provision a device with the toolkit API, hold its MAM channel, publish
readings to a node, read the stream back. Not an example itself.

Each example provisions its device as ``iota-edge provision`` does (a config following the device contract, the
gateway's registry entry), so the config it writes can be flashed onto a board with ``iota-edge flash``.
"""
import argparse
import contextlib
import json
import os
import tempfile

from iota_edge.client import NodeClient
from iota_edge.streams import Channel, FileStore, read_channel
from iota_edge.streams.reading import reading_from_trytes
from iota_edge.toolkit import devconfig
from iota_edge.toolkit.boards import load_board


def parse_args(doc):
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--node", help="IRI-compatible node URL (default: start a private node on a free port)")
    p.add_argument("--out", help="folder for the device config, registry and channel state (default: a temporary "
                                 "one)")
    p.add_argument("--messages", type=int, default=3, help="signed messages to publish (default 3)")
    return p.parse_args()


def provision(out, device, board, uplink, sensors, mode="public", side_key=None, depth=2, **kw):
    """Write OUT/DEVICE.config.json (0600) and OUT/devices.json; return the config dict."""
    b = load_board(board)
    cfg = devconfig.build_config(device, board, devconfig.new_seed(), mode=mode, side_key=side_key, depth=depth,
                                 uplink=uplink, store=b.get("defaults", {}).get("store"), sensors=sensors, **kw)
    path = os.path.join(out, "%s.config.json" % device)
    devconfig.write_secret(path, json.dumps(cfg, indent=2) + "\n", overwrite=True)
    root = devconfig.channel_root(cfg["seed"], cfg["channel"])
    devconfig.update_registry(os.path.join(out, "devices.json"), device,
                              {"root": root, "mode": mode, "side_key": side_key}, force=True)
    print("provisioned %s on %s: config %s, channel root %s..." % (device, board, path, root[:27]))
    return cfg


def channel(cfg, out):
    """The device's channel, as the firmware holds it: tree of 2**depth leaves, state saved before each signature."""
    ch = cfg["channel"]
    store = FileStore(os.path.join(out, "%s.channel.json" % cfg["device"]))
    state = store.load()
    if state:
        return Channel.from_state(state, store=store)
    return Channel(cfg["seed"], mode=ch["mode"], side_key=ch["side_key"], security=ch["security"], start=0,
                   count=2 ** ch["depth"], next_count=2 ** ch["depth"], store=store)


def read_back(client, root, mode="public", side_key=None):
    """Walk the stream from ``root`` and print each verified reading; returns how many verified."""
    ok = 0
    for r in read_channel(client, root, mode=mode, side_key=side_key):
        if not r.ok:
            print("read: INVALID (%s)" % r.error.reason)
            continue
        reading = reading_from_trytes(r.message)
        ok += 1
        for t, values in reading.samples:
            print("read: %s seq %d t=%d %s" % (reading.device, reading.seq, t, "  ".join(
                "%s=%s %s" % v for v in values)))
    return ok


@contextlib.contextmanager
def node_and_folder(args):
    out = args.out or tempfile.mkdtemp(prefix="iota-edge-example-")
    os.makedirs(out, exist_ok=True)
    if args.node:
        yield NodeClient(args.node), out
        return
    from simulators.node import Node

    with Node(db=":memory:", mwm=9, milestone_interval=0) as node:
        yield NodeClient(node.url), out
