"""A building's energy meter publishes signed readings on a MAM channel; a reader verifies them from the Tangle.

    python examples/host_energy_meter_stream.py            # starts a private node of its own on a free port
    python examples/host_energy_meter_stream.py --node http://127.0.0.1:14265

Runs on CPython with what this release ships: the MAM channel (iota_edge.streams), the CBOR reading format, the
C kernel's Proof-of-Work (through NodeClient.send) and the validating node (simulators/node). The channel state is
saved before each message is signed, so killing this script never reuses a one-time key.
"""
import argparse
import os
import tempfile
import time

from iota_edge.client import NodeClient
from iota_edge.streams import Channel, FileStore, read_channel
from iota_edge.streams.reading import reading_from_trytes, reading_to_trytes

SEED_ENV = "IOTA_EDGE_METER_SEED"


def publish_and_read(node_url, state_path, seed, readings=4):
    client = NodeClient(node_url)
    store = FileStore(state_path)
    state = store.load()
    channel = Channel.from_state(state, store=store) if state else Channel(seed, mode="public", count=4, store=store)
    roots = []
    for seq in range(readings):
        kwh = 1520.0 + seq * 0.75
        message = channel.create_message(
            reading_to_trytes("meter-b12", seq, int(time.time()), [("energy", kwh, "kWh"), ("power", 3.2, "kW")]))
        roots.append(message.root)
        client.send(message.bundle(), mwm=9)
        print("published reading %d at %s (root %s...)" % (seq, message.address[:20], message.root[:20]))
    for r in read_channel(client, roots[0]):  # from this run's first message along the chain of next roots
        print("read: %s" % (reading_from_trytes(r.message) if r.ok else "INVALID (%s)" % r.error.reason))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", help="IRI-compatible node URL (default: start a private node on a free port)")
    p.add_argument("--state", help="channel state file (default: a temporary one)")
    args = p.parse_args()
    seed = os.environ.get(SEED_ENV, "EXAMPLE9ENERGY9METER9SEED9DO9NOT9USE9IN9PRODUCTION" + "9" * 31)
    state = args.state or os.path.join(tempfile.mkdtemp(), "meter-channel.json")
    if args.node:
        publish_and_read(args.node, state, seed)
        return
    from simulators.node import Node

    with Node(db=":memory:", mwm=9, milestone_interval=0) as node:
        publish_and_read(node.url, state, seed)


if __name__ == "__main__":
    main()
