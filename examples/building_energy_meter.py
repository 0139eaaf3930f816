"""A building's energy meter (ESP32, pulse output of the utility meter) signs batches of readings on a public MAM
channel; anyone can verify the building's consumption from the Tangle.

    python examples/building_energy_meter.py                # starts a private node on a free port
    python examples/building_energy_meter.py --node http://127.0.0.1:14265 --out meter/

The device config it provisions (meter/meter-b12.config.json) is what ``iota-edge flash --board ESP32_GENERIC``
writes to the board; on the board the firmware does the same sampling and signing, and the gateway attaches.
Six samples share one signature (sampling.batch_max), so a 10-second meter signs once a minute.
"""
import time

from _example import channel, node_and_folder, parse_args, provision, read_back
from iota_edge.streams.reading import encode_batch
from iota_edge.trinary import bytes_to_trytes


def main():
    args = parse_args(__doc__)
    with node_and_folder(args) as (client, out):
        cfg = provision(out, "meter-b12", "ESP32_GENERIC", "mqtt://gateway.local:1883",
                        [{"driver": "pulse_energy", "name": "energy", "unit": "kWh"},
                         {"driver": "pulse_energy", "name": "power", "unit": "kW"}])
        ch = channel(cfg, out)
        first_root = ch.root
        kwh, t0 = 15230.0, int(time.time())
        for seq in range(args.messages):
            samples = []
            for i in range(cfg["sampling"]["batch_max"]):
                kw = 3.0 + 0.1 * ((seq * 6 + i) % 7)
                kwh += kw * cfg["sampling"]["interval_s"] / 3600.0
                samples.append((t0 + (seq * 6 + i) * cfg["sampling"]["interval_s"],
                                [("energy", round(kwh, 3), "kWh"), ("power", round(kw, 2), "kW")]))
            m = ch.create_message(bytes_to_trytes(encode_batch(cfg["device"], seq, samples)))
            client.send(m.bundle(tag="ENERGYMETER"), mwm=cfg["pow"]["mwm"])
            print("published batch %d: %d samples under one signature" % (seq, len(samples)))
        n = read_back(client, first_root)
        print("verified %d of %d messages" % (n, args.messages))
        return 0 if n == args.messages else 1


if __name__ == "__main__":
    raise SystemExit(main())
