"""A temperature, humidity and pressure sensor (BME280 on an ESP32's I2C bus) publishes on a private MAM channel:
readers need the channel root (which the gateway's registry holds), not a key.

    python examples/bme280_sensor.py
    python examples/bme280_sensor.py --node http://127.0.0.1:14265 --out bme/

Values use UCUM units (Cel, %, hPa), as the firmware's bme280 driver reports them; pins and I2C address come from
boards/ESP32_GENERIC/board.json.
"""
import time

from _example import channel, node_and_folder, parse_args, provision, read_back
from iota_edge.streams.reading import reading_to_trytes


def main():
    args = parse_args(__doc__)
    with node_and_folder(args) as (client, out):
        cfg = provision(out, "climate-lab-1", "ESP32_GENERIC", "mqtts://gateway.local:8883",
                        [{"driver": "bme280", "name": "t", "unit": "Cel"},
                         {"driver": "bme280", "name": "rh", "unit": "%"},
                         {"driver": "bme280", "name": "p", "unit": "hPa"}],
                        mode="private", ca="ca.der")
        ch = channel(cfg, out)
        first_root = ch.root
        t0 = int(time.time())
        for seq in range(args.messages):
            values = [("t", round(21.5 + 0.2 * seq, 2), "Cel"), ("rh", 48 - seq, "%"), ("p", 1013.2, "hPa")]
            m = ch.create_message(reading_to_trytes(cfg["device"], seq, t0 + 10 * seq, values))
            client.send(m.bundle(tag="CLIMATE"), mwm=cfg["pow"]["mwm"])
            print("published reading %d at %s... (private: the address is a hash of the root)" % (seq, m.address[:20]))
        n = read_back(client, first_root, mode="private")
        print("verified %d of %d messages" % (n, args.messages))
        return 0 if n == args.messages else 1


if __name__ == "__main__":
    raise SystemExit(main())
