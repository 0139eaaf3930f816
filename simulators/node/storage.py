"""The node's SQLite storage: one connection, WAL, synchronous=FULL, explicit transactions.

    store = Store("node.db")
    with store.transaction():                 # BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception)
        store.add_pending(row)
    store.trytes(["ABC..."])

Transactions of a bundle that is not complete yet wait in ``pending`` and are invisible to every query; the
storeTransactions call that completes a bundle moves the whole bundle into ``transactions`` inside the same SQLite
transaction, so a crash never leaves part of a bundle visible. The caller (``tangle.Tangle``) holds the node's lock
around every call: one connection serves every thread.
"""

import sqlite3
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (address TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    trytes TEXT NOT NULL,
    address TEXT NOT NULL,
    bundle TEXT NOT NULL,
    tag TEXT NOT NULL,
    obsolete_tag TEXT NOT NULL,
    trunk TEXT NOT NULL,
    branch TEXT NOT NULL,
    value INTEGER NOT NULL,
    current_index INTEGER NOT NULL,
    last_index INTEGER NOT NULL,
    root_ms INTEGER NOT NULL,          -- oldest milestone index its attachment references (tip laziness)
    approved INTEGER NOT NULL DEFAULT 0,
    milestone INTEGER                  -- index of the milestone that confirmed it; NULL while unconfirmed
);
CREATE INDEX IF NOT EXISTS tx_address ON transactions (address);
CREATE INDEX IF NOT EXISTS tx_bundle ON transactions (bundle);
CREATE INDEX IF NOT EXISTS tx_tag ON transactions (tag);
CREATE INDEX IF NOT EXISTS tx_obsolete_tag ON transactions (obsolete_tag);
CREATE INDEX IF NOT EXISTS tx_trunk ON transactions (trunk);
CREATE INDEX IF NOT EXISTS tx_branch ON transactions (branch);
CREATE INDEX IF NOT EXISTS tx_tips ON transactions (seq) WHERE approved = 0;
CREATE INDEX IF NOT EXISTS tx_candidates ON transactions (root_ms, seq)
    WHERE approved = 0 AND milestone IS NULL AND current_index = 0;
CREATE TABLE IF NOT EXISTS pending (
    hash TEXT PRIMARY KEY,
    bundle TEXT NOT NULL,
    current_index INTEGER NOT NULL,
    trytes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_bundle ON pending (bundle);
CREATE TABLE IF NOT EXISTS bundles (bundle TEXT PRIMARY KEY, milestone INTEGER);  -- accepted value bundles
CREATE TABLE IF NOT EXISTS deltas (
    bundle TEXT NOT NULL, address TEXT NOT NULL, delta INTEGER NOT NULL, PRIMARY KEY (bundle, address)
);
CREATE INDEX IF NOT EXISTS deltas_address ON deltas (address);
CREATE TABLE IF NOT EXISTS spent (address TEXT PRIMARY KEY, bundle TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS milestones (idx INTEGER PRIMARY KEY, hash TEXT NOT NULL);
"""

_COLUMNS = ("hash", "trytes", "address", "bundle", "tag", "obsolete_tag", "trunk", "branch", "value",
            "current_index", "last_index", "root_ms")
_INSERT = "INSERT INTO transactions (%s) VALUES (%s)" % (", ".join(_COLUMNS), ", ".join("?" * len(_COLUMNS)))


def _chunks(items, n=500):
    items = list(items)
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _marks(n):
    return ", ".join("?" * n)


class Store:
    """SQLite tables of one node. ``on_insert`` (tests only) is called after each row written."""

    def __init__(self, path, on_insert=None):
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.on_insert = on_insert
        self._in_transaction = False

    def close(self):
        self.db.close()

    @contextmanager
    def transaction(self):
        """One explicit write transaction; nested use joins the outer one."""
        if self._in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    def _one(self, sql, args=()):
        row = self.db.execute(sql, args).fetchone()
        return row[0] if row else None

    # --- meta and snapshot --------------------------------------------------------------------------------------

    def meta(self, key):
        return self._one("SELECT value FROM meta WHERE key = ?", (key,))

    def set_meta(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))

    def load_snapshot(self, balances):
        self.db.executemany("INSERT INTO snapshot (address, balance) VALUES (?, ?)", sorted(balances.items()))

    def snapshot_balances(self, addresses):
        out = {}
        for part in _chunks(addresses):
            sql = "SELECT address, balance FROM snapshot WHERE address IN (%s)" % _marks(len(part))
            out.update(self.db.execute(sql, part).fetchall())
        return out

    # --- transactions -------------------------------------------------------------------------------------------

    def known(self, hashes):
        """The subset of ``hashes`` stored, visible or pending."""
        found = set()
        for part in _chunks(hashes):
            m = _marks(len(part))
            found.update(r[0] for r in self.db.execute("SELECT hash FROM transactions WHERE hash IN (%s)" % m, part))
            found.update(r[0] for r in self.db.execute("SELECT hash FROM pending WHERE hash IN (%s)" % m, part))
        return found

    def add_pending(self, tx):
        self.db.execute("INSERT INTO pending (hash, bundle, current_index, trytes) VALUES (?, ?, ?, ?)",
                        (tx.hash, tx.bundle, tx.current_index, tx.trytes))
        if self.on_insert:
            self.on_insert()

    def pending_of_bundle(self, bundle):
        """(hash, current_index, trytes) of the pending transactions with this bundle hash."""
        return self.db.execute("SELECT hash, current_index, trytes FROM pending WHERE bundle = ?", (bundle,)).fetchall()

    def visible_of_bundle(self, bundle):
        return self.db.execute("SELECT hash, current_index, trytes FROM transactions WHERE bundle = ?",
                               (bundle,)).fetchall()

    def make_visible(self, tx, root_ms):
        """Move ``tx`` (a parsed transaction with .hash, .trytes, ...) from pending into the visible tangle."""
        self.db.execute("DELETE FROM pending WHERE hash = ?", (tx.hash,))
        self.db.execute(_INSERT, tuple(getattr(tx, c) for c in _COLUMNS[:-1]) + (root_ms,))
        approved = self._one("SELECT 1 FROM transactions WHERE trunk = ? OR branch = ? LIMIT 1", (tx.hash, tx.hash))
        if approved:
            self.db.execute("UPDATE transactions SET approved = 1 WHERE hash = ?", (tx.hash,))
        self.db.execute("UPDATE transactions SET approved = 1 WHERE hash IN (?, ?) AND approved = 0",
                        (tx.trunk, tx.branch))
        if self.on_insert:
            self.on_insert()

    def row(self, h, columns="current_index, milestone, root_ms"):
        """Selected columns of one visible transaction, or None."""
        return self.db.execute("SELECT %s FROM transactions WHERE hash = ?" % columns, (h,)).fetchone()

    def trytes(self, hashes):
        """{hash: trytes} of the visible transactions among ``hashes``."""
        out = {}
        for part in _chunks(hashes):
            sql = "SELECT hash, trytes FROM transactions WHERE hash IN (%s)" % _marks(len(part))
            out.update(self.db.execute(sql, part).fetchall())
        return out

    def confirmations(self, hashes):
        """{hash: milestone index or None} of the visible transactions among ``hashes``."""
        out = {}
        for part in _chunks(hashes):
            sql = "SELECT hash, milestone FROM transactions WHERE hash IN (%s)" % _marks(len(part))
            out.update(self.db.execute(sql, part).fetchall())
        return out

    def find(self, column, values):
        """Hashes of visible transactions whose ``column`` is one of ``values`` (column is a fixed name)."""
        assert column in ("address", "bundle", "tag", "obsolete_tag", "trunk", "branch")
        found = set()
        for part in _chunks(values):
            sql = "SELECT hash FROM transactions WHERE %s IN (%s)" % (column, _marks(len(part)))
            found.update(r[0] for r in self.db.execute(sql, part))
        return found

    def approvers(self, h):
        return [r[0] for r in self.db.execute("SELECT hash FROM transactions WHERE trunk = ? OR branch = ?", (h, h))]

    def tips(self):
        return [r[0] for r in self.db.execute("SELECT hash FROM transactions WHERE approved = 0 ORDER BY seq")]

    def tip_count(self):
        return self._one("SELECT COUNT(*) FROM transactions WHERE approved = 0")

    _CANDIDATES = "FROM transactions WHERE approved = 0 AND milestone IS NULL AND current_index = 0 AND root_ms >= ?"

    def candidate_count(self, min_root_ms):
        """How many unconfirmed tail tips reference nothing older than milestone ``min_root_ms``."""
        return self._one("SELECT COUNT(*) " + self._CANDIDATES, (min_root_ms,))

    def candidate_at(self, min_root_ms, position):
        """The candidate tip at ``position`` (0-based) in (root_ms, seq) order."""
        return self._one("SELECT hash %s ORDER BY root_ms, seq LIMIT 1 OFFSET ?" % self._CANDIDATES,
                         (min_root_ms, position))

    def unconfirmed_tips(self):
        return [r[0] for r in self.db.execute(
            "SELECT hash FROM transactions WHERE approved = 0 AND milestone IS NULL ORDER BY seq")]

    def parents(self, h):
        """(trunk, branch, milestone, bundle) of a visible transaction, or None."""
        return self.db.execute("SELECT trunk, branch, milestone, bundle FROM transactions WHERE hash = ?",
                               (h,)).fetchone()

    def confirm(self, hashes, index):
        """Mark visible unconfirmed transactions as confirmed by milestone ``index``; value bundles too."""
        for part in _chunks(hashes):
            m = _marks(len(part))
            self.db.execute("UPDATE transactions SET milestone = ? WHERE milestone IS NULL AND hash IN (%s)" % m,
                            [index] + part)
            self.db.execute(
                "UPDATE bundles SET milestone = ? WHERE milestone IS NULL AND bundle IN "
                "(SELECT bundle FROM transactions WHERE current_index = 0 AND hash IN (%s))" % m, [index] + part)

    # --- ledger -------------------------------------------------------------------------------------------------

    def bundle_accepted(self, bundle):
        return self._one("SELECT 1 FROM bundles WHERE bundle = ?", (bundle,)) is not None

    def accept_bundle(self, bundle, deltas, spends):
        """Record a value bundle's balance changes and the addresses it spends from (once per bundle hash)."""
        self.db.execute("INSERT INTO bundles (bundle, milestone) VALUES (?, NULL)", (bundle,))
        self.db.executemany("INSERT INTO deltas (bundle, address, delta) VALUES (?, ?, ?)",
                            [(bundle, a, d) for a, d in sorted(deltas.items())])
        self.db.executemany("INSERT OR IGNORE INTO spent (address, bundle) VALUES (?, ?)",
                            [(a, bundle) for a in sorted(spends)])

    def spent_by(self, address):
        """Bundle hash that spent from ``address``, or None."""
        return self._one("SELECT bundle FROM spent WHERE address = ?", (address,))

    def spent(self, addresses):
        found = set()
        for part in _chunks(addresses):
            sql = "SELECT address FROM spent WHERE address IN (%s)" % _marks(len(part))
            found.update(r[0] for r in self.db.execute(sql, part))
        return found

    def ledger_sums(self, addresses, confirmed_only):
        """{address: sum of accepted deltas} (only of confirmed bundles when ``confirmed_only``)."""
        out = {}
        cond = "AND b.milestone IS NOT NULL" if confirmed_only else ""
        for part in _chunks(addresses):
            sql = ("SELECT d.address, SUM(d.delta) FROM deltas d JOIN bundles b ON b.bundle = d.bundle "
                   "WHERE d.address IN (%s) %s GROUP BY d.address" % (_marks(len(part)), cond))
            out.update(self.db.execute(sql, part).fetchall())
        return out

    def unconfirmed_deltas(self, bundles):
        """[(bundle, address, delta)] of the accepted, still unconfirmed value bundles among ``bundles``."""
        out = []
        for part in _chunks(bundles):
            sql = ("SELECT d.bundle, d.address, d.delta FROM deltas d JOIN bundles b ON b.bundle = d.bundle "
                   "WHERE b.milestone IS NULL AND d.bundle IN (%s)" % _marks(len(part)))
            out.extend(self.db.execute(sql, part).fetchall())
        return out

    # --- milestones ---------------------------------------------------------------------------------------------

    def add_milestone(self, index, h):
        self.db.execute("INSERT INTO milestones (idx, hash) VALUES (?, ?)", (index, h))

    def latest_milestone(self):
        """(index, hash) of the latest milestone, or (0, None)."""
        row = self.db.execute("SELECT idx, hash FROM milestones ORDER BY idx DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, None)

    def first_milestone_index(self):
        return self._one("SELECT MIN(idx) FROM milestones")

    def size_bytes(self):
        return self._one("PRAGMA page_count") * self._one("PRAGMA page_size")
