"""Durable store-and-forward outbox: SQLite (WAL, synchronous=FULL), idempotent by bundle hash, bounded, observable.

    from iota_edge.gateway.outbox import Outbox, OutboxFull
    with Outbox("outbox.db", max_bytes=64 << 20, max_items=100_000, policy="refuse_new") as box:
        try:
            box.put("dev-1", 42, bundle_hash, trytes_list)      # True: stored; False: already had it
        except OutboxFull as e:
            nak_with_retry_after(e.depth)                       # back-pressure to the device
        for item in box.next_batch("received", 10):              # oldest first
            box.mark(item.bundle_hash, "attached", trytes=attached_trytes)
        box.stats()                                              # depth per state, bytes, oldest age, per device

Life of an item: ``received -> attached -> stored -> confirmed``, and ``attached|stored -> received`` to reattach
(a bundle that was never confirmed). Confirmed items are acknowledged to their device (``ack_ready`` /
``mark_acked``) and then ``prune`` removes them, leaving a tombstone so a late retransmission is still a duplicate.
Rejects go to a dead-letter table (``reject``) with a counter per reason; they never sit in the queue.
``released()`` is each device's highest seq attached (or dead-lettered from the queue), kept apart from the items so
pruning does not lose it: the forwarder holds a device's later seqs back while one below them is missing.

Each public method that writes is one explicit transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) on one connection,
so a crash leaves the database as of the last method that returned; a read of one statement is its own snapshot.
Retry and backoff are the forwarder's job, not this module's.
"""
import json
import re
import sqlite3
import time
from collections import namedtuple
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from iota_edge.errors import IotaEdgeError, InvalidValue
from iota_edge.transaction import SPAN, TRANSACTION_TRYTES
from iota_edge.trinary import is_trytes, trytes_to_int

STATES = ("received", "attached", "stored", "confirmed")
# Legal transitions (#7): forward one step at a time, or back to received to reattach an unconfirmed bundle.
TRANSITIONS = {
    "received": ("attached",),
    "attached": ("stored", "received"),
    "stored": ("confirmed", "received"),
    "confirmed": (),
}
POLICIES = ("refuse_new", "drop_oldest")
SCHEMA_VERSION = 4  # 2: the released table; 3: the trytes in their own table; 4: attachments apart (all migrated
# on open)

_HASH = re.compile(r"\A[9A-Z]{81}\Z")

Item = namedtuple("Item", "bundle_hash device seq state trytes received_at updated_at attempts info acked")
DeadLetter = namedtuple("DeadLetter", "id device seq reason raw at")


class OutboxError(IotaEdgeError):
    """Root of the outbox's errors."""


class OutboxFull(OutboxError):
    """The budget is spent and the policy is ``refuse_new``. ``depth`` and ``bytes`` are the current backlog, so a
    transport can tell the device to back off (a NAK with retry-after, an MQTT PUBACK withheld, ...)."""

    def __init__(self, message, depth, nbytes):
        super().__init__(message, "outbox")
        self.depth = depth
        self.bytes = nbytes


class ItemTooLarge(OutboxError):
    """One bundle is larger than the whole byte budget: it can never fit, whatever the policy."""


class IllegalTransition(OutboxError):
    """``mark`` asked for a transition the state machine does not have. ``old`` and ``new`` name the states."""

    def __init__(self, message, old, new):
        super().__init__(message, "state")
        self.old = old
        self.new = new


class UnknownItem(OutboxError):
    """No item with that bundle hash (never put, dropped by ``drop_oldest``, rejected or pruned)."""


class OutboxStorageError(OutboxError):
    """SQLite failed under a call (disk full, I/O error, locked past the timeout). The call's transaction was rolled
    back, so nothing of it was stored; the sqlite3 exception is the ``__cause__``. Transports should answer the
    device as for OutboxFull (it must keep the data and retry)."""


class OutboxCorrupt(OutboxError):
    """The database fails ``PRAGMA quick_check`` or cannot run in WAL mode. Never silently recreated or replaced by
    memory: the backlog in it is the user's data."""


_BUSY_TIMEOUT_S = 30.0  # how long a call waits for another connection's lock before OutboxStorageError


def _locked(e):
    return str(e).startswith("database is locked")


def wal_mode(db, timeout=_BUSY_TIMEOUT_S):
    """Runs ``PRAGMA journal_mode=WAL`` on the sqlite3 connection ``db`` and returns the mode SQLite reports. On a
    new, empty file the switch upgrades a read transaction to a write one, where SQLite answers "database is locked"
    at once instead of waiting in the busy handler; so while another connection is creating the same file (a
    Forwarder given the path opens its own connection in its thread while the application opens its Outbox) the
    pragma is tried again for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            if not _locked(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,          -- receive order; AUTOINCREMENT: ids never reused after prune
    bundle_hash TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'attached', 'stored', 'confirmed')),
    nbytes INTEGER NOT NULL CHECK (nbytes > 0),
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,           -- times attached
    acked INTEGER NOT NULL DEFAULT 0 CHECK (acked IN (0, 1) AND (acked = 0 OR state = 'confirmed')),
    info TEXT NOT NULL DEFAULT '{}',               -- JSON merged from mark(**info)
    UNIQUE (device, seq)
);
-- The transactions, apart (v3): a state change rewrites a row of ~200 bytes, not one with the bundle's kilobytes.
CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, trytes TEXT NOT NULL);  -- id: the item's
CREATE TRIGGER IF NOT EXISTS items_body AFTER DELETE ON items BEGIN
    DELETE FROM bodies WHERE id = OLD.id;
END;
-- An attachment (v4): the last ATTACHED_TRYTES of each transaction (trunk, branch, tag, attachment timestamps,
-- nonce), all that attaching changes, so marking an item attached writes ~250 bytes per transaction instead of
-- rewriting its body (a v3 file's bodies may hold attached transactions whole: read as they are).
CREATE TABLE IF NOT EXISTS attachments (id INTEGER PRIMARY KEY, suffix TEXT NOT NULL);  -- id: the item's
CREATE TRIGGER IF NOT EXISTS items_attachment AFTER DELETE ON items BEGIN
    DELETE FROM attachments WHERE id = OLD.id;
END;
-- The budget's running totals over unacknowledged items, kept by triggers in the same transaction: put stays
-- O(log n) however deep the backlog, and the totals cannot drift from the rows.
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), items INTEGER NOT NULL,
                                   bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0);
CREATE TRIGGER IF NOT EXISTS items_insert AFTER INSERT ON items WHEN NEW.acked = 0 BEGIN
    UPDATE totals SET items = items + 1, bytes = bytes + NEW.nbytes WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS items_delete AFTER DELETE ON items WHEN OLD.acked = 0 BEGIN
    UPDATE totals SET items = items - 1, bytes = bytes - OLD.nbytes WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS items_update AFTER UPDATE OF acked, nbytes ON items BEGIN
    UPDATE totals SET items = items - (OLD.acked = 0) + (NEW.acked = 0),
                      bytes = bytes - (OLD.acked = 0) * OLD.nbytes + (NEW.acked = 0) * NEW.nbytes WHERE id = 1;
END;
CREATE INDEX IF NOT EXISTS items_stats ON items (acked, device, state, received_at, nbytes);  -- covers stats()
CREATE INDEX IF NOT EXISTS items_state ON items (state, id);
CREATE TABLE IF NOT EXISTS tombstones (           -- pruned items: a late retransmission is still a duplicate
    bundle_hash TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    pruned_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tombstones_device ON tombstones (device, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    seq INTEGER,
    reason TEXT NOT NULL,
    raw BLOB,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reject_counts (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS released (             -- per device: the highest seq attached or dead-lettered (v2)
    device TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    at REAL NOT NULL
);
"""

# Version 1 -> 2: what was attached before the released table existed (an item attached at least once, or pruned
# after its confirmation), so a migrated outbox holds nothing back that it had already passed.
_MIGRATE_1_2 = """
INSERT OR IGNORE INTO released (device, seq, at)
    SELECT device, MAX(seq), %r FROM (SELECT device, seq FROM items WHERE state != 'received' OR attempts > 0
                                      UNION ALL SELECT device, seq FROM tombstones)
    WHERE (SELECT value FROM meta WHERE key = 'schema') = '1' GROUP BY device;
UPDATE meta SET value = '2' WHERE key = 'schema' AND value = '1';
"""

# Version 2 -> 3: the items table loses its trytes column to the bodies table. Run (inside the opening transaction)
# when the items table still has that column; the old table's triggers and indexes go with it and _SCHEMA makes
# them again. The AUTOINCREMENT counter is carried over, so ids stay never reused. The tombstones lose their index
# by age: they are trimmed by rowid now.
_MIGRATE_2_3 = """
DROP TRIGGER IF EXISTS items_insert;
DROP TRIGGER IF EXISTS items_delete;
DROP TRIGGER IF EXISTS items_update;
DROP INDEX IF EXISTS items_stats;
DROP INDEX IF EXISTS items_state;
DROP INDEX IF EXISTS tombstones_age;
ALTER TABLE items RENAME TO items_v2;
%s
INSERT INTO items (id, bundle_hash, device, seq, state, nbytes, received_at, updated_at, attempts, acked, info)
    SELECT id, bundle_hash, device, seq, state, nbytes, received_at, updated_at, attempts, acked, info FROM items_v2;
INSERT INTO bodies (id, trytes) SELECT id, trytes FROM items_v2;
UPDATE totals SET items = (SELECT COUNT(*) FROM items WHERE acked = 0),
                  bytes = (SELECT COALESCE(SUM(nbytes), 0) FROM items WHERE acked = 0) WHERE id = 1;
DELETE FROM sqlite_sequence WHERE name = 'items';
UPDATE sqlite_sequence SET name = 'items' WHERE name = 'items_v2';
DROP TABLE items_v2;
""" % _SCHEMA

_UPSERT_RELEASED = ("ON CONFLICT (device) DO UPDATE SET seq = excluded.seq, at = excluded.at "
                    "WHERE excluded.seq > released.seq")  # a device's released seq only goes up
_RELEASE = "INSERT INTO released (device, seq, at) VALUES (?, ?, ?) " + _UPSERT_RELEASED
_RELEASE_OF = ("INSERT INTO released (device, seq, at) SELECT device, seq, ? FROM items WHERE bundle_hash = ? "
               + _UPSERT_RELEASED)
# The states each state may be reached from (TRANSITIONS read backwards), as SQL lists.
_FROM = {new: ", ".join("'%s'" % old for old in STATES if new in TRANSITIONS[old]) for new in STATES}

_COUNTERS = ("put", "duplicates", "seq_conflicts", "refused", "dropped", "pruned", "rejected")


class Outbox:
    """A durable outbox in one SQLite file. Use as a context manager; one instance per process and file.

    Keyword options (defaults in parentheses):
      ``max_bytes`` (256 MiB) and ``max_items`` (100 000): budget over items not yet acknowledged to their device;
      ``policy`` (``"refuse_new"``): when full, ``"refuse_new"`` raises OutboxFull, ``"drop_oldest"`` evicts the
      oldest items in receive order (whatever their state) and counts them in ``stats()["dropped"]``;
      ``max_dead`` (10 000) dead letters kept (oldest go first; the counters keep counting);
      ``max_raw`` (65 536) bytes of a reject's raw payload kept;
      ``max_tombstones`` (1 000 000) pruned keys remembered for idempotency;
      ``check`` (True) runs ``PRAGMA quick_check`` on open; ``clock`` (time.time) gives seconds.
    Acknowledged items are pruned automatically when the budget needs the room.
    """

    def __init__(self, path: str, *, max_bytes: int = 256 << 20, max_items: int = 100_000,
                 policy: str = "refuse_new", max_dead: int = 10_000, max_raw: int = 65_536,
                 max_tombstones: int = 1_000_000, check: bool = True, clock: Callable[[], float] = time.time):
        if policy not in POLICIES:
            raise InvalidValue("policy: expected one of %s, got %r" % (", ".join(POLICIES), policy), "policy")
        for name, v in (("max_bytes", max_bytes), ("max_items", max_items), ("max_dead", max_dead),
                        ("max_raw", max_raw), ("max_tombstones", max_tombstones)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidValue("%s: expected a positive int, got %r" % (name, v), name)
        self.path = path
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.policy = policy
        self.max_dead = max_dead
        self.max_raw = max_raw
        self.max_tombstones = max_tombstones
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_S)  # autocommit: our own BEGINs
        try:
            self._open(check)
        except BaseException:
            self._db.close()
            self._db = None
            raise

    def _open(self, check):
        db = self._db
        try:
            mode = wal_mode(db, _BUSY_TIMEOUT_S)
            if check:
                result = db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            if _locked(e):  # busy, not corrupt: another connection held its lock past the timeout
                raise OutboxStorageError("%s: locked by another connection for more than %g s" % (
                    self.path, _BUSY_TIMEOUT_S), "path") from e
            raise OutboxCorrupt("%s: not a readable SQLite database (%s); move it aside to start over" % (
                self.path, e), "path")
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory: refuse, never fall back
            raise OutboxCorrupt("%s: journal_mode is %r, expected wal" % (self.path, mode), "path")
        if check and result != [("ok",)]:
            raise OutboxCorrupt("%s: quick_check failed: %s" % (self.path, "; ".join(r[0] for r in result[:5])),
                                "path")
        db.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit: a returned put survives power loss
        # Debian builds SQLite with SECURE_DELETE: every page a prune frees (a body's overflow pages) was zeroed and
        # written again; FAST writes about 0.65x the bytes per reading (python -m iota_edge.bench outbox) and still
        # zeroes deleted content on the pages written anyway (the outbox holds signed readings bound for a public
        # ledger).
        db.execute("PRAGMA secure_delete=FAST")
        try:  # SQLite's JSON functions: built in since 3.38, an option before
            self._json_patch = db.execute("SELECT json_patch('{}', '{}')").fetchone() == ("{}",)
        except sqlite3.OperationalError:
            self._json_patch = False
        db.execute("PRAGMA foreign_keys=ON")
        counters = "".join("INSERT OR IGNORE INTO counters VALUES ('%s', 0);" % c for c in _COUNTERS)
        try:
            # One transaction, read and write: two openers of an older file both find out what it needs, and the
            # second finds the first's work done. (Statement by statement: executescript would commit first.)
            db.execute("BEGIN IMMEDIATE")
            try:
                found = db.execute("SELECT value FROM meta WHERE key='schema'").fetchall()
            except sqlite3.OperationalError:  # a new database: no tables yet
                found = []
            columns = [row[1] for row in db.execute("PRAGMA table_info(items)")]
            script = (_MIGRATE_2_3 if "trytes" in columns else _SCHEMA) + (
                "INSERT OR IGNORE INTO meta VALUES ('schema', '%d');" % SCHEMA_VERSION)
            if found == [("1",)]:
                script += _MIGRATE_1_2 % float(self._clock())
            if found in ([("1",)], [("2",)], [("3",)]):  # 3 -> 4: _SCHEMA adds the attachments table
                script += "UPDATE meta SET value = '%d' WHERE key = 'schema';" % SCHEMA_VERSION
            for statement in _statements(script + counters):
                db.execute(statement)
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
        version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
        if version != str(SCHEMA_VERSION):
            raise OutboxCorrupt("%s: schema version %s, expected %d" % (self.path, version, SCHEMA_VERSION), "path")

    # -- plumbing -------------------------------------------------------------------------------------------------

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _tx(self, read=False):
        return _Transaction(self._db, read)

    def _select(self, sql, args=()):
        """Rows of one SELECT: a single statement reads one snapshot without a transaction of its own."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise OutboxStorageError("outbox storage: %s" % (e,), "path") from e

    def _select_in(self, columns, bundle_hashes, tables="items"):
        """``columns`` of the items with these bundle hashes, in reads of 500 (SQLite's bound-parameter limit)."""
        hashes = list(bundle_hashes)
        rows = []
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            # padded to a power of two (at most 500) with repeats of its last hash: sqlite3 caches a prepared
            # statement per SQL text (128 per connection), and one per list length cost 11 MiB of RSS at ~170 lengths
            part += part[-1:] * (min(1 << (len(part) - 1).bit_length(), 500) - len(part))
            marks = ",".join("?" * len(part))
            rows += self._select("SELECT %s FROM %s WHERE items.bundle_hash IN (%s)" % (columns, tables, marks), part)
        return rows

    def _bump(self, name, n=1):
        self._db.execute("UPDATE counters SET value = value + ? WHERE name = ?", (n, name))

    def _backlog(self):
        n, b = self._db.execute("SELECT items, bytes FROM totals WHERE id = 1").fetchone()
        return n, b

    # -- put ------------------------------------------------------------------------------------------------------

    def put(self, device: str, seq: int, bundle_hash: str, trytes_list: Sequence[str],
            received_at: Optional[float] = None) -> bool:
        """Store one bundle received from ``device`` with the device's sequence number ``seq``. Returns True when
        stored, False when the outbox already has (or had, and pruned) this bundle hash or this (device, seq).
        A (device, seq) already used by another bundle also writes a ``seq_conflict`` dead letter with the new
        trytes, so a device that reset its counter loses nothing silently. Raises OutboxFull (policy
        ``refuse_new``) or ItemTooLarge; ``drop_oldest`` evicts to make room."""
        result = self.put_many([(device, seq, bundle_hash, trytes_list, received_at)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def put_many(self, entries: Sequence[tuple]) -> List[Any]:
        """``put`` for several bundles, ``(device, seq, bundle_hash, trytes_list[, received_at])`` each, in one
        transaction (one commit, one fsync): a gateway storing a burst of readings. Returns one result per entry,
        in order: True (stored), False (had it, as ``put``), an ItemTooLarge or OutboxFull exception object (not
        raised), or None for the entries after one of those, which are not tried (the caller keeps them in order
        behind the one refused). Arguments are checked first: an InvalidValue for any entry raises and stores
        nothing. OutboxStorageError raises and stores nothing."""
        checked = []
        for entry in entries:
            device, seq, bundle_hash, trytes_list = entry[:4]
            received_at = entry[4] if len(entry) > 4 else None
            if not isinstance(device, str) or not device:
                raise InvalidValue("device: expected a non-empty str, got %r" % (device,), "device")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise InvalidValue("seq: expected an int >= 0, got %r" % (seq,), "seq")
            if not isinstance(bundle_hash, str) or not _HASH.match(bundle_hash):
                raise InvalidValue("bundle_hash: expected 81 trytes", "bundle_hash")
            trytes = _join_trytes(trytes_list)
            checked.append((device, seq, bundle_hash, trytes, _size(trytes), received_at))
        now = self._clock()
        results = [None] * len(checked)
        db = self._db
        with self._tx():
            for i, (device, seq, bundle_hash, trytes, nbytes, received_at) in enumerate(checked):
                if nbytes > self.max_bytes:
                    results[i] = ItemTooLarge("bundle %s...: %d bytes, more than max_bytes=%d" % (
                        bundle_hash[:9], nbytes, self.max_bytes), "trytes_list")
                    break
                dup = db.execute(
                    "SELECT bundle_hash FROM items WHERE bundle_hash = ? OR (device = ? AND seq = ?) "
                    "UNION ALL SELECT bundle_hash FROM tombstones WHERE bundle_hash = ? OR (device = ? AND seq = ?) "
                    "LIMIT 1", (bundle_hash, device, seq, bundle_hash, device, seq)).fetchone()
                if dup is not None:
                    if dup[0] == bundle_hash:
                        self._bump("duplicates")
                    else:  # a device that reset its counter: keep the bundle where an operator can see it
                        self._bump("seq_conflicts")
                        self._dead(device, seq, "seq_conflict", trytes)
                    results[i] = False
                    continue
                full = self._make_room(nbytes)
                if full is not None:
                    self._bump("refused")  # committed with the pruning
                    results[i] = OutboxFull(
                        "outbox full: %d items (max_items=%d), %d bytes (max_bytes=%d); policy refuse_new" % (
                            full[0], self.max_items, full[1], self.max_bytes), full[0], full[1])
                    break
                rowid = db.execute("INSERT INTO items (bundle_hash, device, seq, state, nbytes, received_at, "
                                   "updated_at) VALUES (?, ?, ?, 'received', ?, ?, ?)",
                                   (bundle_hash, device, seq, nbytes, now if received_at is None
                                    else float(received_at), now)).lastrowid
                db.execute("INSERT INTO bodies (id, trytes) VALUES (?, ?)", (rowid, trytes))
                results[i] = True
            stored = results.count(True)
            if stored:
                self._bump("put", stored)
        return results

    def _make_room(self, nbytes):
        db = self._db
        n, b = self._backlog()
        if n + 1 <= self.max_items and b + nbytes <= self.max_bytes:
            return
        self._prune()  # acknowledged rows hold no obligation; they are not in the backlog but take disk
        if self.policy == "refuse_new":
            return n, b
        dropped = 0
        while n + 1 > self.max_items or b + nbytes > self.max_bytes:
            rowid, size = db.execute("SELECT id, nbytes FROM items WHERE acked = 0 ORDER BY id LIMIT 1").fetchone()
            db.execute("DELETE FROM items WHERE id = ?", (rowid,))
            n -= 1
            b -= size
            dropped += 1
        self._bump("dropped", dropped)

    # -- the forwarder's side -------------------------------------------------------------------------------------

    def next_batch(self, state: str, limit: int = 100, trytes: bool = True, *, device: Optional[str] = None,
                   skip_devices: Iterable[str] = (), skip_hashes: Iterable[str] = ()) -> List[Item]:
        """Up to ``limit`` items in ``state``, oldest (receive order) first. Reads only; nothing is leased.
        ``trytes=False`` leaves the transactions out (``Item.trytes`` is then ``[]``): watching a deep backlog for
        confirmation then reads a few hundred bytes per item instead of kilobytes. ``device``: only that device's
        items, lowest seq first. ``skip_devices``: leave those devices' items out; ``skip_hashes``: those items."""
        _check_state(state)
        limit = max(0, int(limit))
        columns, tables = (_ITEM_COLUMNS, _ITEMS) if trytes else (_BARE_COLUMNS, "items")
        where, args, order = "state = ? AND acked = 0", [state], "items.id"
        if device is not None:
            where, order = where + " AND device = ?", "seq"
            args.append(device)
        skip = sorted(set(skip_devices))
        if skip:
            where += " AND device NOT IN (%s)" % ",".join("?" * len(skip))
            args += skip
        hashes = list(skip_hashes)
        if hashes:
            where += " AND bundle_hash NOT IN (%s)" % ",".join("?" * len(hashes))
            args += hashes
        rows = self._select("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT ?" % (columns, tables, where, order),
                            args + [limit])
        return [_item(r) for r in rows]

    def reattached(self) -> List[str]:
        """Bundle hashes of the items not yet acknowledged that were sent back to ``received`` with
        ``reattach_from`` in their info (a forwarder's reattachments), in receive order."""
        return [r[0] for r in self._select("SELECT bundle_hash FROM items WHERE acked = 0 AND "
                                           "info LIKE '%\"reattach_from\"%' ORDER BY id")]

    def released(self) -> Dict[str, int]:
        """{device: the highest seq attached (``mark(..., "attached")``) or dead-lettered from the queue
        (``reject`` with its seq)}, over the outbox's whole life: pruning does not lower it."""
        return dict(self._select("SELECT device, seq FROM released"))

    def get(self, bundle_hash: str) -> Optional[Item]:
        """The item with this bundle hash, or None."""
        rows = self._select("SELECT %s FROM %s WHERE items.bundle_hash = ?" % (_ITEM_COLUMNS, _ITEMS), (bundle_hash,))
        return _item(rows[0]) if rows else None

    def get_many(self, bundle_hashes: Iterable[str], trytes: bool = True) -> Dict[str, Item]:
        """{bundle hash: item} of those of ``bundle_hashes`` in the outbox (one read); ``trytes=False`` as for
        ``next_batch``."""
        columns, tables = (_ITEM_COLUMNS, _ITEMS) if trytes else (_BARE_COLUMNS, "items")
        return {row[0]: _item(row) for row in self._select_in(columns, bundle_hashes, tables)}

    def mark(self, bundle_hash: str, new_state: str, **info: Any) -> None:
        """Move an item to ``new_state`` along a legal transition. ``trytes=[...]`` records its attachment: the
        stored transactions attached (trunk, branch, tag, attachment timestamps and nonce filled in), read back
        from then on; only those last ATTACHED_TRYTES of each are written, so transactions of another bundle, or
        not as many, raise InvalidValue. Other keyword arguments are merged into the item's JSON ``info`` (tail
        hash, node, milestone, ...). Going to ``attached`` also raises the device's ``released()`` seq to the
        item's, in the same transaction."""
        if self.mark_many([(bundle_hash, new_state, info)]):
            raise UnknownItem("bundle %s: not in the outbox" % (bundle_hash,), "bundle_hash")

    def mark_many(self, changes: Iterable[Any], durable: bool = True) -> List[str]:
        """``mark`` for many items in one transaction (one fsync): ``changes`` are (bundle_hash, new_state, info)
        with ``info`` a dict as mark's keyword arguments. Items no longer in the outbox (dropped, rejected, pruned)
        are skipped and their hashes returned; an illegal transition raises IllegalTransition and nothing of the
        call is stored. ``durable=False`` commits without the fsync (``synchronous=NORMAL`` for this one commit):
        a power cut may then lose these changes, never corrupt the file; the next durable commit makes them
        durable too. For changes that are safe to redo, such as ``stored`` (storing again is idempotent)."""
        now = self._clock()
        prepared = []
        for bundle_hash, new_state, info in changes:
            _check_state(new_state)
            info = dict(info)
            trytes = info.pop("trytes", None)
            attached = None  # (suffix, the body's nbytes it fits)
            if trytes is not None:
                attached = (_attachment(bundle_hash, trytes), TRANSACTION_TRYTES * len(trytes))
            prepared.append((bundle_hash, new_state, info, attached))
        missing = []
        db = self._db
        if not durable:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            if not self._mark_direct(prepared, now):
                self._mark_prepared(prepared, missing, now)
        finally:
            if not durable:
                db.execute("PRAGMA synchronous=FULL")
        return missing

    def _mark_direct(self, prepared, now):
        """The common case without reading the items first: each UPDATE names the states it may come from and
        merges the info in SQLite (json_patch). True when every item changed; otherwise (an item gone or an illegal
        transition, an item twice, a None or dict in the info, whose merge json_patch would not do as dict.update
        does) nothing is kept and False sends the call to ``_mark_prepared``, which sorts out which and why."""
        if not self._json_patch or len({p[0] for p in prepared}) != len(prepared) or any(
                v is None or isinstance(v, dict) for p in prepared for v in p[2].values()):
            return False
        groups = {}  # statement -> rows of arguments
        attachments, releases = [], []
        for bundle_hash, new_state, info, attached in prepared:
            sets = "state = ?, updated_at = ?, info = json_patch(info, ?)"
            args = [new_state, now, json.dumps(info), bundle_hash]
            where = "bundle_hash = ? AND state IN (%s)" % _FROM[new_state]
            if new_state == "attached":
                sets += ", attempts = attempts + 1"
                releases.append((now, bundle_hash))
            if attached is not None:  # as many transactions as the body (else the slow path says so)
                where += " AND nbytes = ?"
                args.append(attached[1])
                attachments.append((attached[0], bundle_hash))
            groups.setdefault("UPDATE items SET %s WHERE %s" % (sets, where), []).append(args)
        db = self._db
        try:
            with self._tx():
                changed = sum(db.executemany(sql, rows).rowcount for sql, rows in groups.items())
                if changed != len(prepared):
                    raise _Fallback()
                if attachments:
                    db.executemany("INSERT OR REPLACE INTO attachments (id, suffix) "
                                   "SELECT id, ? FROM items WHERE bundle_hash = ?", attachments)
                if releases:
                    db.executemany(_RELEASE_OF, releases)
        except _Fallback:
            return False
        return True

    def _mark_prepared(self, prepared, missing, now):
        """One read of every item concerned, then one executemany per kind of update (each statement per row cost
        more than the rows themselves). An item changed twice in one call sees its first change."""
        db = self._db
        with self._tx():
            rows = {r[0]: list(r[1:]) for r in self._select_in("bundle_hash, state, info, device, seq, id, nbytes",
                                                                {p[0] for p in prepared})}
            updates = {}  # statement -> its rows of arguments, in order
            releases = []
            batch = set()  # hashes in ``updates``: a repeat runs the statements so far first
            for bundle_hash, new_state, info, attached in prepared:
                row = rows.get(bundle_hash)
                if row is None:
                    missing.append(bundle_hash)
                    continue
                old = row[0]
                if new_state not in TRANSITIONS[old]:
                    legal = " or ".join(TRANSITIONS[old]) or "nothing (final)"
                    raise IllegalTransition("bundle %s...: cannot go from %s to %s; from %s it may go to %s" % (
                        bundle_hash[:9], old, new_state, old, legal), old, new_state)
                if attached is not None and attached[1] != row[5]:
                    raise InvalidValue("trytes_list: bundle %s... has %d transactions in the outbox, got %d" % (
                        bundle_hash[:9], row[5] // TRANSACTION_TRYTES, attached[1] // TRANSACTION_TRYTES),
                        "trytes_list")
                merged = _info(row[1])
                merged.update(info)
                row[0], row[1] = new_state, json.dumps(merged, sort_keys=True)
                sets = "state = ?, updated_at = ?, info = ?"
                args = [new_state, now, row[1]]
                if new_state == "attached":
                    sets += ", attempts = attempts + 1"
                    releases.append((row[2], row[3], now))
                if bundle_hash in batch:
                    self._run_updates(updates)
                    batch.clear()
                batch.add(bundle_hash)
                if attached is not None:
                    updates.setdefault("INSERT OR REPLACE INTO attachments (id, suffix) VALUES (?, ?)", []).append(
                        (row[4], attached[0]))
                updates.setdefault("UPDATE items SET " + sets + " WHERE bundle_hash = ?", []).append(
                    args + [bundle_hash])
            self._run_updates(updates)
            if releases:
                db.executemany(_RELEASE, releases)  # order-free: a device's released seq only goes up

    def _run_updates(self, updates):
        for sql, rows in updates.items():
            self._db.executemany(sql, rows)
        updates.clear()

    # -- dead letters ---------------------------------------------------------------------------------------------

    def reject(self, device: str, seq: Optional[int], reason: str, raw: Union[bytes, str, None] = None) -> None:
        """Record a reject (malformed frame, invalid bundle, node refusal) in the dead-letter table and count it by
        ``reason``. If the outbox holds an unconfirmed item for (device, seq) it is moved out of the queue too (its
        trytes become ``raw`` when none is given), so a poisoned item never blocks the ones behind it, and its seq
        counts as ``released()``: the device's later seqs do not wait for it."""
        if not isinstance(reason, str) or not reason:
            raise InvalidValue("reason: expected a non-empty str", "reason")
        db = self._db
        with self._tx():
            if seq is not None:
                row = db.execute("SELECT items.id, bodies.trytes, attachments.suffix FROM %s WHERE device = ? "
                                 "AND seq = ? AND state != 'confirmed'" % _ITEMS, (str(device), seq)).fetchone()
                if row is not None:
                    db.execute("DELETE FROM items WHERE id = ?", (row[0],))
                    db.execute(_RELEASE, (str(device), seq, self._clock()))
                    if raw is None:
                        raw = ",".join(_trytes(row[1], row[2]))
            self._dead(device, seq, reason, raw)

    def _dead(self, device, seq, reason, raw):
        db = self._db
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "replace")
        if raw is not None:
            raw = bytes(raw[:self.max_raw])
        db.execute("INSERT INTO dead_letters (device, seq, reason, raw, at) VALUES (?, ?, ?, ?, ?)",
                   (str(device), seq, reason, raw, self._clock()))
        db.execute("INSERT INTO reject_counts VALUES (?, 1) "
                   "ON CONFLICT (reason) DO UPDATE SET count = count + 1", (reason,))
        self._bump("rejected")
        db.execute("DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?", (self.max_dead,))

    def dead_letters(self, limit: int = 100) -> List[DeadLetter]:
        """The newest ``limit`` dead letters, newest first."""
        with self._tx(read=True):
            rows = self._db.execute("SELECT id, device, seq, reason, raw, at FROM dead_letters "
                                    "ORDER BY id DESC LIMIT ?", (max(0, int(limit)),)).fetchall()
        return [DeadLetter(*r) for r in rows]

    # -- acknowledgements to devices ------------------------------------------------------------------------------

    def ack_ready(self, device: str) -> List[Item]:
        """Confirmed items of ``device`` not yet acknowledged to it, in seq order."""
        with self._tx(read=True):
            rows = self._db.execute("SELECT %s FROM %s WHERE device = ? AND state = 'confirmed' AND acked = 0 "
                                    "ORDER BY seq" % (_ITEM_COLUMNS, _ITEMS), (device,)).fetchall()
        return [_item(r) for r in rows]

    def to_acknowledge(self, limit: int = 500) -> List[tuple]:
        """(device, seq) of up to ``limit`` confirmed items not yet acknowledged, in receive order: a gateway's round
        of acknowledgements, read without the items' info or trytes."""
        return self._select("SELECT device, seq FROM items WHERE state = 'confirmed' AND acked = 0 ORDER BY id "
                            "LIMIT ?", (max(0, int(limit)),))

    def mark_acked(self, device: str, seqs: Iterable[int]) -> int:
        """Record that ``device`` received the acknowledgement for these sequence numbers. Only confirmed items
        change; returns how many did."""
        return self.mark_acked_many({device: seqs})

    def mark_acked_many(self, acks: Dict[str, Iterable[int]], prune: bool = False) -> int:
        """``mark_acked`` for several devices ({device: seqs}) in one transaction, and with ``prune`` the ``prune``
        after it in the same one: one commit for a gateway's round of acknowledgements. Returns how many items
        were marked."""
        now = self._clock()
        rows = [(now, str(device), s) for device, seqs in acks.items() for s in seqs]
        with self._tx():
            n = self._db.executemany("UPDATE items SET acked = 1, updated_at = ? WHERE device = ? AND seq = ? "
                                     "AND state = 'confirmed' AND acked = 0", rows).rowcount
            if prune:
                self._prune()
        return n

    def prune(self) -> int:
        """Delete acknowledged confirmed items, keeping a tombstone of each key. Returns how many were removed."""
        with self._tx():
            return self._prune()

    def _prune(self):
        db = self._db
        now = self._clock()
        db.execute("INSERT OR REPLACE INTO tombstones SELECT bundle_hash, device, seq, ? FROM items WHERE acked = 1",
                   (now,))
        n = db.execute("DELETE FROM items WHERE acked = 1").rowcount
        if n:
            self._bump("pruned", n)
            # The newest max_tombstones by rowid, which grows with every tombstone written (a replaced one takes a new
            # one): O(log n), where counting the table costs a scan of up to a million rows at every prune.
            db.execute("DELETE FROM tombstones WHERE rowid <= (SELECT MAX(rowid) FROM tombstones) - ?",
                       (self.max_tombstones,))
        return n

    # -- observability --------------------------------------------------------------------------------------------

    def stats(self) -> Dict[str, Any]:
        """A snapshot for dashboards and health checks (one read transaction):

        ``depth`` {state: items not yet acknowledged}, ``backlog`` (their sum) and ``bytes``; ``oldest_age`` seconds
        since the oldest unconfirmed item was received (None when none); ``devices`` {device: {"pending",
        "unacked", "bytes", "oldest_age"}}; ``rejects`` {reason: count}; ``dead_letters`` rows kept; ``counters``
        (put, duplicates, seq_conflicts, refused, dropped, pruned, rejected); ``budget`` {max_items, max_bytes,
        policy, used_items, used_bytes}."""
        db = self._db
        now = self._clock()
        with self._tx(read=True):
            depth = dict.fromkeys(STATES, 0)
            for state, n in db.execute("SELECT state, COUNT(*) FROM items WHERE acked = 0 GROUP BY state"):
                depth[state] = n
            n, b = self._backlog()
            oldest = db.execute("SELECT MIN(received_at) FROM items WHERE state != 'confirmed'").fetchone()[0]
            devices = {}
            for dev, pending, unacked, nb, first in db.execute(
                    "SELECT device, SUM(state != 'confirmed'), SUM(state = 'confirmed'), SUM(nbytes), "
                    "MIN(CASE WHEN state != 'confirmed' THEN received_at END) FROM items WHERE acked = 0 "
                    "GROUP BY device ORDER BY device"):
                devices[dev] = {"pending": pending, "unacked": unacked, "bytes": nb,
                                "oldest_age": None if first is None else max(0.0, now - first)}
            rejects = dict(db.execute("SELECT reason, count FROM reject_counts ORDER BY reason").fetchall())
            dead = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
            counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        return {
            "depth": depth, "backlog": n, "bytes": b,
            "oldest_age": None if oldest is None else max(0.0, now - oldest),
            "devices": devices, "rejects": rejects, "dead_letters": dead, "counters": counters,
            "budget": {"max_items": self.max_items, "max_bytes": self.max_bytes, "policy": self.policy,
                       "used_items": n, "used_bytes": b},
        }


class _Fallback(Exception):
    """_mark_direct's changes did not all apply: roll back and take the slow path."""


class _Transaction:
    """``BEGIN IMMEDIATE`` (or ``BEGIN`` for reads) ... ``COMMIT``; ``ROLLBACK`` on any exception."""

    def __init__(self, db, read=False):
        self.db = db
        self.read = read

    def __enter__(self):
        try:
            self.db.execute("BEGIN" if self.read else "BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise OutboxStorageError("outbox storage: %s" % (e,), "path") from e
        return self.db

    def __exit__(self, kind, exc, tb):
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return False
            except sqlite3.Error as e:
                kind, exc = type(e), e
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR)
        if isinstance(exc, sqlite3.Error):
            raise OutboxStorageError("outbox storage: %s" % (exc,), "path") from exc
        return False


_ITEM_COLUMNS = ("items.bundle_hash, items.device, items.seq, items.state, bodies.trytes, items.received_at, "
                 "items.updated_at, items.attempts, items.info, items.acked, attachments.suffix")
# FROM, for _ITEM_COLUMNS
_ITEMS = "items JOIN bodies ON bodies.id = items.id LEFT JOIN attachments ON attachments.id = items.id"
# from items alone: Item.trytes is then []
_BARE_COLUMNS = _ITEM_COLUMNS.replace("bodies.trytes", "''").replace("attachments.suffix", "NULL")
_KEPT = SPAN["trunk"][0]  # trunk, branch, tag, attachment timestamp and bounds, nonce from here: what attaching writes
ATTACHED_TRYTES = TRANSACTION_TRYTES - _KEPT


def _statements(script):
    """The SQL statements of ``script`` one by one (a trigger's body keeps its semicolons)."""
    part = ""
    for piece in script.split(";"):
        part += piece + ";"
        if sqlite3.complete_statement(part):
            if part.strip(" \n;"):
                yield part
            part = ""


def _info(text):
    return {} if text == "{}" else json.loads(text)  # most received items have no info yet


def _item(row):
    return Item(row[0], row[1], row[2], row[3], _trytes(row[4], row[10]), row[5], row[6], row[7], _info(row[8]),
                bool(row[9]))


def _trytes(body, suffix):
    """The item's transactions, in the body's order: the body, with each transaction's part of the attachment (the
    suffix holds them by current index) in place when it has one."""
    if not body:
        return []
    txs = body.split(",")
    if suffix:
        a = ATTACHED_TRYTES
        txs = [t[:_KEPT] + suffix[a * i:a * (i + 1)] for i, t in ((_index(t), t) for t in txs)]
    return txs


def _attachment(bundle_hash, trytes_list):
    """The attachments row's suffix of the attached transactions ``trytes_list`` (2673-tryte strings, in any order:
    a device's bundle is stored as it came, attach_to_tangle returns the tail first) of the item ``bundle_hash``:
    their last ATTACHED_TRYTES by current index. InvalidValue when one is not 2673 characters, its suffix or current
    index not trytes, it belongs to another bundle, or the current indexes are not 0 .. n - 1. Only the suffix is
    written, so only the fields read are checked for their alphabet: the body's was when it was put."""
    if isinstance(trytes_list, str) or not isinstance(trytes_list, (list, tuple)) or not trytes_list:
        raise InvalidValue("trytes_list: expected a non-empty list of 2673-tryte strings", "trytes_list")
    by_index = {}
    for i, t in enumerate(trytes_list):
        if (not isinstance(t, str) or len(t) != TRANSACTION_TRYTES or not is_trytes(t[_KEPT:])
                or not is_trytes(t[_INDEX_FIELD])):
            raise InvalidValue("trytes_list[%d]: expected 2673 trytes" % i, "trytes_list")
        if t[_BUNDLE_FIELD] != bundle_hash:
            raise InvalidValue("trytes_list[%d]: a transaction of bundle %s..., not of %s..." % (
                i, t[_BUNDLE_FIELD][:9], bundle_hash[:9]), "trytes_list")
        by_index[_index(t)] = t[_KEPT:]
    if sorted(by_index) != list(range(len(trytes_list))):
        raise InvalidValue("trytes_list: current indexes %s, expected 0..%d once each" % (
            sorted(_index(t) for t in trytes_list), len(trytes_list) - 1), "trytes_list")
    return "".join(by_index[i] for i in range(len(trytes_list)))


def _index(t):
    return trytes_to_int(t[_INDEX_FIELD])


_BUNDLE_FIELD = slice(*SPAN["bundle"])
_INDEX_FIELD = slice(*SPAN["current_index"])


def _check_state(state):
    if state not in STATES:
        raise InvalidValue("state: expected one of %s, got %r" % (", ".join(STATES), state), "state")


def _size(joined):
    """Budgeted bytes: one per tryte (the separators are not counted)."""
    return len(joined) - joined.count(",")


def _join_trytes(trytes_list):
    if isinstance(trytes_list, str) or not trytes_list:
        raise InvalidValue("trytes_list: expected a non-empty list of 2673-tryte strings", "trytes_list")
    for i, t in enumerate(trytes_list):
        if not is_trytes(t) or len(t) != 2673:  # is_trytes: a bytes.translate, 3x faster than a regex here
            raise InvalidValue("trytes_list[%d]: expected 2673 trytes" % i, "trytes_list")
    return ",".join(trytes_list)
