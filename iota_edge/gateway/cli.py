"""``iota-edge gateway``: run the gateway, or show its backlog from the database (also while it runs).

    iota-edge gateway --config gateway.toml              # run until SIGINT/SIGTERM
    iota-edge gateway status --config gateway.toml       # queue depth, oldest age, dead letters, devices
    iota-edge gateway status --db data/outbox.db --json

``status`` opens the SQLite file read-only (``mode=ro``): it never writes, never creates the file, and does not stop
a running gateway.
"""
import argparse
import json
import os
import sqlite3
import sys
import time

from iota_edge.gateway.state import read_devices

STATES = ("received", "attached", "stored", "confirmed")

_EXAMPLE = """examples:
  iota-edge gateway --config gateway.toml
  iota-edge gateway status --config gateway.toml
  iota-edge gateway status --db /var/lib/iota-edge/outbox.db --json

gateway.toml (see README.md, "The gateway"):
  [gateway]
  id = "gw-1"
  data_dir = "data"
  [node]
  url = "http://127.0.0.1:14265"
  [[transports]]
  url = "mqtts://broker:8883"
  username = "gateway"
  password_file = "mqtt.pw"
  ca = "ca.crt"
  [devices]
  registry = "devices.json"
"""


class StatusError(Exception):
    """One line for the user; exit status 2."""


def add_gateway_command(subparsers):
    """Register ``gateway`` (and ``gateway status``) on the ``iota-edge`` CLI's subparsers."""
    raw = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("gateway", help="run the device gateway (MQTT, serial) or show its status",
                              formatter_class=raw, epilog=_EXAMPLE,
                              description="Run the gateway: devices over MQTT and serial, a durable outbox,\n"
                                          "forwarding to the node, acknowledgements back to each device.")
    p.add_argument("--config", help="the gateway's TOML file")
    p.add_argument("--ingest-only", action="store_true",
                   help="collect, verify and store readings, but do not forward them to the node")
    sub = p.add_subparsers(dest="gateway_command", metavar="status")
    s = sub.add_parser("status", help="queue depth, oldest age, dead letters, per-device backlog",
                       formatter_class=raw, epilog=_EXAMPLE,
                       description="Read the gateway database read-only (works while the gateway runs).")
    s.add_argument("--config", dest="status_config", help="the gateway's TOML file (its data_dir holds outbox.db)")
    s.add_argument("--db", help="the outbox database file instead of --config")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
    return p


def run(args):
    from iota_edge.gateway.config import ConfigError, load_config
    from iota_edge.gateway.service import GatewayError

    try:
        if getattr(args, "gateway_command", None) == "status":
            return _status(args)
        if not args.config:
            raise StatusError("--config: required (iota-edge gateway --config FILE)")
        load_config(args.config)  # validate before anything starts: one line naming the key
        from iota_edge.gateway.service import run_gateway

        return run_gateway(args.config, forwarder=None if args.ingest_only else "auto")
    except (StatusError, ConfigError, GatewayError) as e:
        print("iota-edge gateway: error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:  # e.g. data_dir not writable, metrics port taken
        print("iota-edge gateway: error: %s" % e, file=sys.stderr)
        return 2


def _status(args):
    from iota_edge.gateway.config import load_config

    if bool(args.status_config) == bool(args.db):
        raise StatusError("give --config FILE or --db PATH (one of them)")
    path = args.db or load_config(args.status_config).db_path
    report = read_status(path)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_status(report))
    return 0


def read_status(path, now=None):
    """The status report of a gateway database as a dict (see ``format_status``)."""
    if not os.path.isfile(path):
        raise StatusError("%s: no such database (has the gateway run with this data_dir?)" % path)
    now = time.time() if now is None else now
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    except sqlite3.Error as e:
        raise StatusError("%s: cannot open read-only (%s)" % (path, e))
    try:
        db.execute("BEGIN")  # one snapshot for every query
        depth = dict.fromkeys(STATES, 0)
        depth.update(db.execute("SELECT state, COUNT(*) FROM items WHERE acked = 0 GROUP BY state").fetchall())
        oldest = db.execute("SELECT MIN(received_at) FROM items WHERE state != 'confirmed'").fetchone()[0]
        nbytes = db.execute("SELECT bytes FROM totals WHERE id = 1").fetchone()[0]
        rejects = dict(db.execute("SELECT reason, count FROM reject_counts ORDER BY reason").fetchall())
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        devices = {}
        for dev, pending, unacked, first in db.execute(
                "SELECT device, SUM(state != 'confirmed'), SUM(state = 'confirmed'), "
                "MIN(CASE WHEN state != 'confirmed' THEN received_at END) FROM items WHERE acked = 0 "
                "GROUP BY device"):
            devices[dev] = {"pending": pending, "unacked": unacked,
                            "oldest_age": None if first is None else round(max(0.0, now - first), 3)}
        for dev, info in read_devices(db).items():
            entry = devices.setdefault(dev, {"pending": 0, "unacked": 0, "oldest_age": None})
            entry["heartbeat"] = info["hb_stats"]
            entry["heartbeat_age"] = None if info["hb_at"] is None else round(max(0.0, now - info["hb_at"]), 3)
            entry["transport"] = info["transport"]
        db.execute("COMMIT")
    except sqlite3.OperationalError as e:
        raise StatusError("%s: not a gateway database (%s)" % (path, e))
    except sqlite3.DatabaseError as e:
        raise StatusError("%s: unreadable (%s)" % (path, e))
    finally:
        db.close()
    return {"db": path, "depth": depth, "backlog": sum(depth.values()), "bytes": nbytes,
            "oldest_age": None if oldest is None else round(max(0.0, now - oldest), 3),
            "dead_letters": rejects, "counters": counters, "devices": dict(sorted(devices.items()))}


def format_status(r):
    age = "-" if r["oldest_age"] is None else "%.1f s" % r["oldest_age"]
    lines = ["outbox %s" % r["db"],
             "queue: " + "  ".join("%s %d" % (s, r["depth"][s]) for s in STATES) +
             "  (backlog %d, %d bytes, oldest %s)" % (r["backlog"], r["bytes"], age),
             "dead letters: " + (", ".join("%s %d" % kv for kv in r["dead_letters"].items()) or "none")]
    if r["devices"]:
        lines.append("%-24s %8s %8s %10s  %s" % ("device", "pending", "unacked", "oldest", "device backlog"))
        for dev, d in r["devices"].items():
            hb = d.get("heartbeat")
            hb_text = "-" if not hb else " ".join("%s=%s" % kv for kv in sorted(hb.items()))
            lines.append("%-24s %8d %8d %10s  %s" % (dev, d["pending"] or 0, d["unacked"] or 0,
                                                    "-" if d["oldest_age"] is None else "%.1fs" % d["oldest_age"],
                                                    hb_text))
    return "\n".join(lines)
