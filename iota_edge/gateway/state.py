"""The gateway's per-device state in the outbox's SQLite file: channel positions, routes, heartbeats.

    state = DeviceState("data/outbox.db")
    registry = Registry(state.restore(load_devices("devices.json")))    # provisioned roots + persisted positions
    ...                                                                   # outbox.put(...) has returned, then:
    state.record_accepts([(device, seq, registry.get(device), root, index, provisioned_root,
                           ("mqtts://b:8883", "meter-7"))])

Ordering, not a shared transaction, keeps ``(device, seq)`` from being accepted twice across a crash: the service
records an acceptance here only after ``Outbox.put`` has committed, and the outbox itself is idempotent by bundle
hash and by (device, seq). A crash between the two leaves this table one message behind; the device's
retransmission then verifies again, ``put`` answers "already had it", and this table catches up. The reverse order
could acknowledge a "duplicate" that the outbox never stored, so it is not used. Because the outbox is the
authority, these tables run with ``synchronous=NORMAL`` (WAL): losing the newest rows in a power cut is the same
harmless lag.

Tables (prefix ``gw_``): ``gw_devices`` (device, provisioned root, current root, next root, last leaf index, route,
last heartbeat) and ``gw_seen`` ((device, seq) -> (root, leaf index) of the last SEEN_WINDOW accepted messages).
"""
import json
import sqlite3
import time

from iota_edge.gateway.outbox import wal_mode
from iota_edge.gateway.verify import SEEN_WINDOW

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gw_devices (
    device TEXT PRIMARY KEY,
    provisioned_root TEXT NOT NULL,      -- the root in devices.json when the positions below were recorded
    root TEXT NOT NULL, next_root TEXT, last_index INTEGER NOT NULL,
    transport TEXT, route TEXT,          -- where acknowledgements go (Transport.name, its route)
    hb_seq INTEGER, hb_stats TEXT, hb_at REAL, last_seen REAL
);
CREATE TABLE IF NOT EXISTS gw_seen (
    device TEXT NOT NULL, seq INTEGER NOT NULL, root TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
"""


class DeviceState:
    """One connection to the gateway database, used from one thread (the service's ingestion thread)."""

    def __init__(self, path, clock=time.time):
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        wal_mode(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        self._routes = {}
        self._accepts = 0

    def close(self):
        if self._db is not None:
            self._db.close()
            self._db = None

    def restore(self, devices):
        """Registry input: each provisioned device with its persisted position, unless it was re-provisioned with
        another root since (then it starts from the new root). Also loads the routes (see ``route``)."""
        out = {}
        for device, cfg in devices.items():
            entry = dict(cfg)
            row = self._db.execute("SELECT provisioned_root, root, next_root, last_index, transport, route "
                                   "FROM gw_devices WHERE device = ?", (device,)).fetchone()
            if row is not None and row[0] == cfg["root"]:
                entry.update(root=row[1], next_root=row[2], last_index=row[3])
                seen = self._db.execute("SELECT seq, root, idx FROM gw_seen WHERE device = ? ORDER BY seq DESC "
                                        "LIMIT ?", (device, SEEN_WINDOW)).fetchall()
                entry["seen"] = {str(s): [r, i] for s, r, i in seen}
            if row is not None and row[4]:
                self._routes[device] = (row[4], row[5])
            out[device] = entry
        return out

    def route(self, device):
        """(transport name, route) last recorded for ``device``, or (None, None)."""
        return self._routes.get(device, (None, None))

    def record_accepts(self, accepts):
        """Persist, after the outbox stored them (one ``put_many``), the acceptance of several messages, each
        ``(device, seq, position, root, index, provisioned_root, route)``: ``position`` the registry entry
        (Registry.get(device)), (root, index) the signed message's place, ``route`` (transport name, route) of its
        sender. One transaction."""
        db = self._db
        now = self._clock()
        routes = {}
        db.execute("BEGIN IMMEDIATE")
        try:
            for device, seq, position, root, index, provisioned_root, route in accepts:
                route = _route(route)
                db.execute("INSERT INTO gw_devices (device, provisioned_root, root, next_root, last_index, transport, "
                           "route, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET "
                           "provisioned_root = excluded.provisioned_root, root = excluded.root, "
                           "next_root = excluded.next_root, last_index = excluded.last_index, "
                           "transport = COALESCE(excluded.transport, transport), "
                           "route = COALESCE(excluded.route, route), last_seen = excluded.last_seen",
                           (device, provisioned_root, position["root"], position["next_root"],
                            position["last_index"], route[0], route[1], now))
                db.execute("INSERT OR REPLACE INTO gw_seen VALUES (?, ?, ?, ?)", (device, seq, root, index))
                self._accepts += 1
                if self._accepts % 512 == 0:  # keep the window the verifier remembers, not every message ever
                    db.execute("DELETE FROM gw_seen WHERE device = ? AND seq <= ?", (device, seq - 2 * SEEN_WINDOW))
                if route[0] is not None:
                    routes[device] = route
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        self._routes.update(routes)

    def record_route(self, device, provisioned_root, route):
        """Remember where ``device`` was last heard from (heartbeats, duplicates), if it changed."""
        route = _route(route)
        if route[0] is None or self._routes.get(device) == route:
            return
        self._db.execute("UPDATE gw_devices SET transport = ?, route = ? WHERE device = ?",
                         (route[0], route[1], device))
        self._routes[device] = route

    def record_heartbeat(self, device, provisioned_root, seq, stats):
        self._db.execute("INSERT INTO gw_devices (device, provisioned_root, root, last_index, hb_seq, hb_stats, "
                         "hb_at) VALUES (?, ?, ?, -1, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET "
                         "hb_seq = excluded.hb_seq, hb_stats = excluded.hb_stats, hb_at = excluded.hb_at",
                         (device, provisioned_root, provisioned_root, seq, json.dumps(stats, sort_keys=True),
                          self._clock()))

    def is_tombstoned(self, bundle_hash):
        """True when the outbox pruned this bundle after acknowledging it (a late retransmission)."""
        return self._db.execute("SELECT 1 FROM tombstones WHERE bundle_hash = ?", (bundle_hash,)).fetchone() is not None


def _route(route):
    if route is None or route[0] is None:
        return (None, None)
    return (route[0], None if route[1] is None else str(route[1]))


def read_devices(db):
    """{device: {"last_seen", "hb_seq", "hb_stats", "hb_at", "transport"}} from an open (read-only) connection;
    {} when the gateway never wrote the table."""
    try:
        rows = db.execute("SELECT device, last_seen, hb_seq, hb_stats, hb_at, transport FROM gw_devices "
                          "ORDER BY device").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {r[0]: {"last_seen": r[1], "hb_seq": r[2], "hb_stats": json.loads(r[3]) if r[3] else None,
                   "hb_at": r[4], "transport": r[5]} for r in rows}
