"""A rooftop solar producer (Raspberry Pi Pico W counting the S0 pulses of the inverter's generation meter) publishes its generation
on a restricted MAM channel: only who holds the side key (here, the grid operator) can read it.

    python examples/rooftop_solar.py
    python examples/rooftop_solar.py --node http://127.0.0.1:14265 --out solar/

The side key lives in solar/devices.json (the gateway's registry) and in the device config, never on a command line.
A reader without it gets nothing but a verification failure.
"""
import math
import time

from _example import channel, node_and_folder, parse_args, provision, read_back
from iota_edge.streams import read_channel
from iota_edge.streams.reading import reading_to_trytes
from iota_edge.toolkit.devconfig import new_seed


def main():
    args = parse_args(__doc__)
    side_key = new_seed()[:27]
    with node_and_folder(args) as (client, out):
        cfg = provision(out, "solar-roof-3", "RPI_PICO_W", "mqtt://gateway.local:1883",
                        [{"driver": "pulse_energy", "name": "pv_power", "unit": "W", "imp_per_kwh": 1000},
                         {"driver": "sim_climate", "name": "panel_temp", "unit": "Cel"}],
                        mode="restricted", side_key=side_key)
        ch = channel(cfg, out)
        first_root = ch.root
        t0 = int(time.time())
        for seq in range(args.messages):
            sun = max(0.0, math.sin(math.pi * (seq + 1) / (args.messages + 1)))
            values = [("pv_power", round(4200 * sun, 1), "W"), ("pv_voltage", round(380 + 20 * sun, 1), "V")]
            m = ch.create_message(reading_to_trytes(cfg["device"], seq, t0 + 60 * seq, values))
            client.send(m.bundle(tag="SOLAR"), mwm=cfg["pow"]["mwm"])
            print("published reading %d (restricted)" % seq)
        n = read_back(client, first_root, mode="restricted", side_key=side_key)
        outsider = read_channel(client, first_root, mode="restricted", side_key="WRONG9KEY")
        print("verified %d of %d with the side key; %d readable without it" % (
            n, args.messages, sum(r.ok for r in outsider)))
        return 0 if n == args.messages and not any(r.ok for r in outsider) else 1


if __name__ == "__main__":
    raise SystemExit(main())
