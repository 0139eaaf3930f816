"""``iota-edge provision``: a device's config, its gateway registry entry and its MQTT password line in one step.

    iota-edge provision meter-7 --board ESP32_GENERIC --uplink mqtt://gateway.local:1883 --out provisioned/

writes ``provisioned/meter-7.config.json`` (0600: it holds the seed and the MQTT password), adds
``meter-7 -> {"root", "mode", "side_key"}`` to ``provisioned/devices.json`` (the gateway's registry) and, for an
MQTT uplink, writes ``provisioned/meter-7.mosquitto_passwd`` (one mosquitto_passwd line, 0600) to append to the
broker's password file. The seed is new (os.urandom) unless ``--seed-file`` names one; it is never printed.
"""
import argparse
import json
import os
from urllib.parse import quote, urlsplit, urlunsplit

from iota_edge.errors import InvalidValue
from iota_edge.toolkit import devconfig
from iota_edge.toolkit.boards import load_board


def _with_credentials(url, device):
    """Put ``device:PASSWORD@`` into an mqtt(s) URL that has no password; returns (url, password or None)."""
    devconfig.check_uplink_url(url)
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts") or u.password:
        return url, None
    password = devconfig.new_password()
    host = u.hostname + (":%d" % u.port if u.port else "")
    return urlunsplit((u.scheme, "%s:%s@%s" % (quote(device, safe=""), password, host), u.path, u.query,
                       u.fragment)), password


def _side_key(args):
    if args.mode != "restricted":
        return None
    if not args.side_key_file:
        raise InvalidValue("side_key: restricted mode needs --side-key-file", "side_key")
    try:
        with open(args.side_key_file) as f:
            return f.read().strip()
    except OSError as e:
        raise InvalidValue("side_key: cannot read %s (%s)" % (args.side_key_file, e.strerror),
                                     "side_key")


def run(args):
    board = load_board(args.board)
    seed = devconfig.read_seed(args.seed_file) if args.seed_file else devconfig.new_seed()
    uplink, password = _with_credentials(args.uplink, args.device)
    sensors = [devconfig.parse_sensor(s) for s in args.sensor] or None
    if sensors:
        for s in sensors:
            if s["driver"] not in board.get("sensors", {}):
                raise InvalidValue("sensor: board %s has no driver %r (it has: %s)" % (
                    args.board, s["driver"], ", ".join(sorted(board.get("sensors", {})))), "sensor")
    cfg = devconfig.build_config(
        args.device, args.board, seed, mode=args.mode, side_key=_side_key(args), security=args.security,
        depth=args.depth, uplink=uplink, ca=args.ca, keepalive_s=args.keepalive,
        pow_where=args.pow, mwm=args.mwm, interval_s=args.interval, batch_max=args.batch_max,
        store=board.get("defaults", {}).get("store"), heartbeat_s=args.heartbeat, sensors=sensors)
    os.makedirs(args.out, exist_ok=True)
    config_path = os.path.join(args.out, "%s.config.json" % args.device)
    registry_path = args.registry or os.path.join(args.out, "devices.json")
    root = devconfig.channel_root(seed, cfg["channel"])
    entry = {"root": root, "mode": cfg["channel"]["mode"], "side_key": cfg["channel"]["side_key"]}
    # the registry first: a refusal there (device already listed) must leave no half-provisioned config behind
    devconfig.update_registry(registry_path, args.device, entry, force=args.force)
    devconfig.write_secret(config_path, json.dumps(cfg, indent=2) + "\n", overwrite=args.force)
    passwd_path = None
    if password:
        passwd_path = os.path.join(args.out, "%s.mosquitto_passwd" % args.device)
        devconfig.write_secret(passwd_path, devconfig.mosquitto_password_line(args.device, password) + "\n",
                               overwrite=args.force)
    from iota_edge.streams import channel_address

    report = {"device": args.device, "board": args.board, "config": config_path, "registry": registry_path,
              "root": root, "address": channel_address(root, cfg["channel"]["mode"]), "mode": entry["mode"],
              "uplink": urlsplit(uplink).scheme, "password_file": passwd_path}
    if args.json:
        print(json.dumps(report))
        return 0
    print("provisioned %s (%s)" % (args.device, args.board))
    print("  config     %s  (0600: holds the seed%s)" % (config_path, " and the MQTT password" if password else ""))
    print("  registry   %s  (the gateway's devices.json)" % registry_path)
    print("  root       %s" % root)
    if passwd_path:
        print("  mosquitto  %s  (append to the broker's password file: cat %s >> /etc/mosquitto/passwd)"
              % (passwd_path, passwd_path))
    print("next: iota-edge flash --board %s --port auto --config %s" % (args.board, config_path))
    return 0


def add_provision_command(sub):
    p = sub.add_parser(
        "provision", help="write a device config, its gateway registry entry and MQTT password",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__.split("\n\n")[0],
        epilog="Example: iota-edge provision meter-7 --board ESP32_GENERIC --uplink mqtt://gateway.local:1883 "
               "--sensor sim_energy:p:W --out provisioned/\nAlso:    iota-edge provision serial-3 --board RPI_PICO_W "
               "--uplink serial://uart0 --seed-file serial-3.seed")
    p.add_argument("device", help="device id (also its MQTT user name and client id)")
    p.add_argument("--board", required=True, help="board folder under boards/ (e.g. ESP32_GENERIC, RPI_PICO_W)")
    p.add_argument("--uplink", required=True,
                   help="mqtt://HOST:PORT, mqtts://HOST:PORT (a password is generated), serial://uart1 or "
                        "serial:///dev/ttyUSB0?baud=115200")
    p.add_argument("--seed-file", help="use this seed (81 trytes) instead of a new one")
    p.add_argument("--mode", default="public", choices=devconfig.MODES, help="MAM channel mode (default public)")
    p.add_argument("--side-key-file", help="side key of a restricted channel (read from a file, never argv)")
    p.add_argument("--security", type=int, default=1, choices=(1, 2, 3), help="MAM security level (default 1)")
    p.add_argument("--depth", type=int, default=4, help="tree depth: 2**depth messages per tree (default 4)")
    p.add_argument("--ca", help="CA certificate file name on the board for mqtts (e.g. ca.der)")
    p.add_argument("--keepalive", type=int, default=30, help="MQTT keepalive seconds (default 30)")
    p.add_argument("--pow", default="gateway", choices=("gateway", "device"), help="who does Proof-of-Work")
    p.add_argument("--mwm", type=int, default=9, help="minimum weight magnitude (default 9)")
    p.add_argument("--interval", type=int, default=10, help="seconds between samples (default 10)")
    p.add_argument("--batch-max", type=int, default=6, help="samples per signed message at most (default 6)")
    p.add_argument("--heartbeat", type=int, default=60, help="seconds between heartbeats (default 60)")
    p.add_argument("--sensor", action="append", default=[], metavar="DRIVER[:NAME[:UNIT]]",
                   help="a sensor (repeat); default sim_energy:p:W")
    p.add_argument("--out", default=".", help="folder for the config and password files (default .)")
    p.add_argument("--registry", help="the gateway's devices.json to update (default OUT/devices.json)")
    p.add_argument("--force", action="store_true", help="replace an existing config / registry entry")
    p.add_argument("--json", action="store_true", help="print one JSON object (no secrets in it)")
    p.set_defaults(func=run)
    return p
