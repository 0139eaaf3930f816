"""A serial-only device behind a gateway: the device has no network, it sends each signed reading as a wire message
(iota_edge.wire, CBOR) in framed, acknowledged serial frames (iota_edge.framing); the gateway verifies it against
its registry (iota_edge.gateway.verify), attaches it to the Tangle and acknowledges it back over the same link.

    python examples/serial_device_gateway.py
    python examples/serial_device_gateway.py --node http://127.0.0.1:14265 --out serial/

The cable here is an in-memory pair; on hardware the gateway's end is ``serial.Serial("/dev/ttyUSB0", 115200,
timeout=0)`` and the board's is its UART (uplink ``serial://uart0`` in the config). A retransmitted message is
recognised as a duplicate and acknowledged again, never attached twice.
"""
import json
import os
import time

from _example import channel, node_and_folder, parse_args, provision, read_back
from iota_edge import wire
from iota_edge.framing import Link
from iota_edge.gateway.verify import Accepted, Registry, Verifier
from iota_edge.streams import channel_address
from iota_edge.streams.reading import reading_to_trytes


class CableEnd:
    """One end of an in-memory serial cable (what pyserial's Serial offers the Link: in_waiting, read, write)."""

    def __init__(self):
        self.inbox = bytearray()
        self.peer = None

    @property
    def in_waiting(self):
        return len(self.inbox)

    def read(self, n):
        data = bytes(self.inbox[:n])
        del self.inbox[:n]
        return data

    def write(self, data):
        self.peer.inbox += data
        return len(data)


def main():
    args = parse_args(__doc__)
    with node_and_folder(args) as (client, out):
        cfg = provision(out, "serial-pump-2", "RPI_PICO_W", "serial://uart0",
                        [{"driver": "sim_energy", "name": "p", "unit": "W"}])
        with open(os.path.join(out, "devices.json")) as f:
            verifier = Verifier(Registry(json.load(f)))
        dev_end, gw_end = CableEnd(), CableEnd()
        dev_end.peer, gw_end.peer = gw_end, dev_end
        acks = []
        counts = {"attached": 0, "duplicate": 0}

        def on_gateway_data(data):
            up = wire.decode(data)
            result = verifier.verify(up)          # raises Rejected (dead letter) on a bad message
            if isinstance(result, Accepted):
                transfer = {"address": channel_address(up.root, up.mode), "value": 0, "tag": "SERIALDEVICE",
                            "message_trytes": up.payload}
                from iota_edge.bundle import prepare_transfer
                client.send(prepare_transfer(None, [transfer]), mwm=cfg["pow"]["mwm"])
                counts["attached"] += 1
                status = "stored"
            else:
                counts["duplicate"] += 1
                status = "duplicate"
            gateway.send(wire.encode_ack(up.device, up.seq, status))

        device = Link(dev_end, on_data=lambda d: acks.append(wire.decode(d)), max_payload=8192)
        gateway = Link(gw_end, on_data=on_gateway_data, max_payload=8192)
        ch = channel(cfg, out)
        first_root = ch.root
        t0 = int(time.time())
        sent = []
        for seq in range(args.messages):
            m = ch.create_message(reading_to_trytes(cfg["device"], seq, t0 + 10 * seq, [("p", 850 + seq, "W")]))
            sent.append(wire.encode_up(cfg["device"], seq, m.root, m.payload, m.mode))
            device.send(sent[-1])
        device.send(sent[-1])                     # a retransmission, as after a lost acknowledgement
        deadline = time.monotonic() + 60
        while len(acks) < args.messages + 1 and time.monotonic() < deadline:
            device.poll()
            gateway.poll()
        for a in acks:
            print("device got ack: seq %d %s" % (a.seq, a.status))
        n = read_back(client, first_root)
        print("attached %d, duplicates acknowledged %d, verified from the node %d" % (
            counts["attached"], counts["duplicate"], n))
        return 0 if n == args.messages == counts["attached"] and counts["duplicate"] == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
