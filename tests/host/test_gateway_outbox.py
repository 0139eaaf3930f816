"""The gateway outbox (#7): idempotency, order, state machine, budgets and policies, dead letters, stats, restart,
and SIGKILL crash recovery (a child process is killed at random moments 20 times; every put it reported is there
exactly once, every item is in a state the child could have left it in, and the file passes integrity_check)."""
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from iota_edge.errors import IotaEdgeError, InvalidValue
from iota_edge.transaction import SPAN
from iota_edge.trinary import int_to_trytes
from iota_edge.gateway import outbox as outbox_module
from iota_edge.gateway.outbox import (STATES, TRANSITIONS, IllegalTransition, ItemTooLarge, Outbox, OutboxCorrupt,
                                      OutboxFull, OutboxStorageError, UnknownItem, _statements, _trytes)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRYTES = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def h(i):
    """A distinct 81-tryte 'bundle hash' for i."""
    out = ""
    for _ in range(81):
        out += TRYTES[i % 27]
        i //= 27
    return out


def tx(i=0):
    return (TRYTES[i % 27] * 2673)


def btx(bundle, i=0, index=0):
    """Transaction ``index`` of ``bundle`` (its current index field, trytes 2331..2339, and bundle field, 2349..2429,
    hold them), unattached."""
    return TRYTES[i % 27] * 2331 + int_to_trytes(index, 9) + TRYTES[i % 27] * 9 + bundle + "9" * 243


def attached(t, k):
    """``t`` attached: its last 243 trytes (trunk, branch, tag, attachment timestamps, nonce) filled in."""
    return t[:2430] + TRYTES[k % 27] * 243


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "outbox.db")


def assert_totals(db):
    """The trigger-kept budget totals equal a recount of the rows."""
    assert db.execute("SELECT items, bytes FROM totals").fetchall() == db.execute(
        "SELECT COUNT(*), COALESCE(SUM(nbytes), 0) FROM items WHERE acked = 0").fetchall()


def advance(box, bh, to):
    for state in STATES[1:STATES.index(to) + 1]:
        box.mark(bh, state)


def test_pragmas_and_error_root(path):
    with Outbox(path) as box:
        assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    for cls in (OutboxFull, ItemTooLarge, IllegalTransition, UnknownItem, OutboxCorrupt):
        assert issubclass(cls, IotaEdgeError)


def test_idempotent_by_bundle_hash_and_device_seq(path):
    with Outbox(path) as box:
        assert box.put("d1", 1, h(1), [tx()]) is True
        assert box.put("d1", 1, h(1), [tx()]) is False  # retransmission
        assert box.put("d2", 9, h(1), [tx()]) is False  # same bundle via another device
        assert box.put("d1", 1, h(2), [tx()]) is False  # same (device, seq), other hash
        assert box.put("d2", 1, h(2), [tx()]) is True
        s = box.stats()
        assert s["backlog"] == 2
        assert s["counters"]["duplicates"] == 2 and s["counters"]["seq_conflicts"] == 1
        assert s["rejects"] == {"seq_conflict": 1}
        assert box.dead_letters(1)[0][1:4] == ("d1", 1, "seq_conflict") and box.dead_letters(1)[0].raw == tx().encode()
        assert box._db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2


def test_pruned_items_stay_duplicates(path):
    with Outbox(path) as box:
        box.put("d", 1, h(1), [tx()])
        advance(box, h(1), "confirmed")
        assert [i.seq for i in box.ack_ready("d")] == [1]
        assert box.mark_acked("d", [1]) == 1
        assert box.prune() == 1
        assert box.get(h(1)) is None
        assert box.put("d", 1, h(1), [tx()]) is False  # a late retransmission after the ack was lost
        assert box.put("d", 5, h(1), [tx()]) is False
        assert box.stats()["counters"]["pruned"] == 1


def test_next_batch_oldest_first_per_state(path):
    with Outbox(path) as box:
        for i in range(10):
            box.put("d%d" % (i % 3), i, h(i), [tx(i)])
        assert [it.seq for it in box.next_batch("received", 4)] == [0, 1, 2, 3]
        box.mark(h(2), "attached")
        box.mark(h(0), "attached")
        assert [it.seq for it in box.next_batch("attached", 10)] == [0, 2]  # receive order, not mark order
        assert [it.seq for it in box.next_batch("received", 100)] == [1, 3, 4, 5, 6, 7, 8, 9]
        assert box.next_batch("stored", 10) == []
        it = box.next_batch("received", 1)[0]
        assert it.trytes == [tx(1)] and it.device == "d1" and it.state == "received" and it.attempts == 0
        with pytest.raises(InvalidValue):
            box.next_batch("lost", 1)


def test_next_batch_of_one_device_in_seq_order_and_skipping_devices(path):
    with Outbox(path) as box:
        for i, (dev, seq) in enumerate([("a", 3), ("b", 0), ("a", 1), ("c", 0), ("a", 2), ("b", 1)]):
            box.put(dev, seq, h(i), [tx(i)])
        assert [it.seq for it in box.next_batch("received", 10, device="a")] == [1, 2, 3]  # a redelivery came late
        assert [it.seq for it in box.next_batch("received", 2, device="a")] == [1, 2]
        assert box.next_batch("received", 10, device="nobody") == []
        assert [(it.device, it.seq) for it in box.next_batch("received", 10, skip_devices={"a", "c"})] == [
            ("b", 0), ("b", 1)]
        assert [it.device for it in box.next_batch("received", 3, skip_devices=())] == ["a", "b", "a"]


def test_released_marks_follow_attached_and_dead_lettered_items_and_survive_pruning(path):
    with Outbox(path) as box:
        assert box.released() == {}
        for seq in range(4):
            box.put("d", seq, h(seq), [tx(seq)])
        box.put("e", 7, h(7), [tx(7)])
        box.mark(h(1), "attached")
        assert box.released() == {"d": 1}
        box.mark(h(0), "attached")  # a lower seq attached later (a late redelivery) does not lower it
        assert box.released() == {"d": 1}
        box.mark(h(1), "received")  # back to reattach: what was attached stays released
        box.mark(h(1), "attached")
        assert box.released() == {"d": 1}
        box.reject("d", 2, "node_refused")  # dead-lettered from the queue: nothing left to wait for
        box.reject("e", 8, "bad_frame")  # no such item: not released
        assert box.released() == {"d": 2}
        for bh in (h(0), h(1)):  # both attached now
            box.mark(bh, "stored")
            box.mark(bh, "confirmed")
        assert box.mark_acked("d", [0, 1]) == 2 and box.prune() == 2
        assert box.released() == {"d": 2}
    with Outbox(path) as box:  # persisted
        assert box.released() == {"d": 2}
        assert [it.seq for it in box.next_batch("received", 10, device="d")] == [3]


# The items table of versions 1 and 2 (its trytes inline), with its triggers and indexes, as those versions wrote it.
_V2_ITEMS = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bundle_hash TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'attached', 'stored', 'confirmed')),
    nbytes INTEGER NOT NULL CHECK (nbytes > 0),
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 0 CHECK (acked IN (0, 1) AND (acked = 0 OR state = 'confirmed')),
    info TEXT NOT NULL DEFAULT '{}',
    trytes TEXT NOT NULL,
    UNIQUE (device, seq)
);
CREATE TRIGGER items_insert AFTER INSERT ON items WHEN NEW.acked = 0 BEGIN
    UPDATE totals SET items = items + 1, bytes = bytes + NEW.nbytes WHERE id = 1;
END;
CREATE TRIGGER items_delete AFTER DELETE ON items WHEN OLD.acked = 0 BEGIN
    UPDATE totals SET items = items - 1, bytes = bytes - OLD.nbytes WHERE id = 1;
END;
CREATE TRIGGER items_update AFTER UPDATE OF acked, nbytes ON items BEGIN
    UPDATE totals SET items = items - (OLD.acked = 0) + (NEW.acked = 0),
                      bytes = bytes - (OLD.acked = 0) * OLD.nbytes + (NEW.acked = 0) * NEW.nbytes WHERE id = 1;
END;
CREATE INDEX items_stats ON items (acked, device, state, received_at, nbytes);
CREATE INDEX items_state ON items (state, id);
CREATE INDEX tombstones_age ON tombstones (pruned_at);
"""


def to_version_2_layout(path):
    """Rewrite an outbox file as version 2 wrote it: the trytes back in the items table, no bodies table, the
    AUTOINCREMENT counter kept."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    rows = [r[:-2] + (",".join(_trytes(r[-2], r[-1])),) for r in db.execute(  # attached whole, as v2 kept them
        "SELECT items.id, bundle_hash, device, seq, state, nbytes, received_at, updated_at, attempts, acked, info, "
        "trytes, suffix FROM items JOIN bodies ON bodies.id = items.id "
        "LEFT JOIN attachments ON attachments.id = items.id")]
    counter = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()[0]
    totals = db.execute("SELECT items, bytes FROM totals").fetchone()
    for statement in ("DROP TABLE items", "DROP TABLE bodies", "DROP TABLE attachments"):
        db.execute(statement)
    for statement in _statements(_V2_ITEMS):
        db.execute(statement)
    db.executemany("INSERT INTO items VALUES (%s)" % ",".join("?" * 12), rows)
    db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'items'", (counter,))
    db.execute("UPDATE totals SET items = ?, bytes = ?", totals)
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    db.execute("COMMIT")
    db.close()


def test_an_attachment_lines_up_with_the_body_by_current_index_in_any_order(path):
    """A device's own bundle is stored as it came (head first here); attach_to_tangle returns the tail first. The
    attachment's part of each transaction goes back onto the transaction with its current index."""
    with Outbox(path) as box:
        body = [btx(h(1), k, 2 - k) for k in range(3)]  # indexes 2, 1, 0: head first
        box.put("d", 1, h(1), body)
        tail_first = [attached(body[2], 5), attached(body[1], 6), attached(body[0], 7)]
        box.mark(h(1), "attached", trytes=tail_first)
        assert box.get(h(1)).trytes == [attached(body[0], 7), attached(body[1], 6), attached(body[2], 5)]
        with pytest.raises(InvalidValue, match="current indexes"):
            box.mark(h(1), "stored", trytes=[attached(body[0], 1), attached(body[0], 1), attached(body[1], 1)])
        assert box.get(h(1)).state == "attached"


def test_a_version_2_outbox_is_migrated_with_its_trytes_and_ids(path):
    """Version 3 moved the trytes to a table of their own (a state change no longer rewrites kilobytes)."""
    with Outbox(path) as box:
        for seq in range(6):
            box.put("a", seq, h(seq), [btx(h(seq), seq), btx(h(seq), seq + 50, 1)])
        box.mark(h(0), "attached", trytes=[attached(btx(h(0), 0), 90), attached(btx(h(0), 50, 1), 91)], tails=["T"])
        advance(box, h(1), "confirmed")
        advance(box, h(2), "confirmed")
        box.mark_acked("a", [2])
        box.put("b", 0, h(10), [tx(10)])
        advance(box, h(10), "confirmed")
        box.mark_acked("b", [0])
        box.prune()  # the highest id so far is pruned: its id must not come back
        before = {bh: box.get(bh) for bh in (h(0), h(1), h(3), h(4), h(5))}
        stats = box.stats()
    to_version_2_layout(path)
    db = sqlite3.connect(path)
    assert "trytes" in [r[1] for r in db.execute("PRAGMA table_info(items)")]
    db.close()
    with Outbox(path) as box:
        assert box._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "4"
        assert "trytes" not in [r[1] for r in box._db.execute("PRAGMA table_info(items)")]
        assert box._db.execute("SELECT name FROM sqlite_master WHERE name = 'tombstones_age'").fetchall() == []
        assert {bh: box.get(bh) for bh in before} == before
        assert box.get(h(0)).trytes == [attached(btx(h(0), 0), 90), attached(btx(h(0), 50, 1), 91)]
        assert box.get(h(0)).info["tails"] == ["T"]
        assert box.stats()["depth"] == stats["depth"] and box.stats()["bytes"] == stats["bytes"]
        assert_totals(box._db)
        assert box.put("b", 1, h(11), [tx(11)])
        ids = dict(box._db.execute("SELECT bundle_hash, id FROM items").fetchall())
        assert ids[h(11)] == 8  # after the 7 put before: id 7 (pruned) is not reused
        assert box.put("b", 0, h(10), [tx(10)]) is False  # still a duplicate: the tombstones stayed
        advance(box, h(5), "confirmed")
        box.mark_acked("a", [1, 5])
        assert box.prune() == 2
        assert box._db.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 4  # the pruned took theirs along
        assert box._db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 4
        assert_totals(box._db)
    with Outbox(path) as box:  # opened again: nothing left to migrate
        assert [it.seq for it in box.next_batch("received", 10)] == [3, 4, 1]
        assert box.get(h(3)).trytes == [btx(h(3), 3), btx(h(3), 53, 1)]


def test_a_version_3_outbox_is_migrated_and_its_whole_attached_bodies_read_as_they_are(path):
    """Version 4 keeps an attachment's 243 trytes per transaction apart instead of rewriting the body; a version 3
    file's bodies hold attached transactions whole, and read back as they are until the item is attached again."""
    with Outbox(path) as box:
        for seq in range(3):
            box.put("a", seq, h(seq), [btx(h(seq), seq), btx(h(seq), seq + 9, 1)])
        box.mark(h(0), "attached", trytes=[attached(btx(h(0), 0), 1), attached(btx(h(0), 9, 1), 2)])
        advance(box, h(1), "confirmed")
        before = {bh: box.get(bh) for bh in (h(0), h(1), h(2))}
    db = sqlite3.connect(path, isolation_level=None)  # as version 3 left it: the attached transactions in the body
    db.execute("BEGIN")
    for rowid, body, suffix in db.execute("SELECT id, trytes, suffix FROM bodies JOIN attachments USING (id)"):
        db.execute("UPDATE bodies SET trytes = ? WHERE id = ?", (",".join(_trytes(body, suffix)), rowid))
    db.execute("DROP TABLE attachments")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    db.execute("COMMIT")
    db.close()
    with Outbox(path) as box:
        assert box._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "4"
        assert {bh: box.get(bh) for bh in before} == before
        box.mark(h(0), "received", reattach_from=7)
        box.mark(h(0), "attached", trytes=[attached(btx(h(0), 0), 3), attached(btx(h(0), 9, 1), 4)])
        assert box.get(h(0)).trytes == [attached(btx(h(0), 0), 3), attached(btx(h(0), 9, 1), 4)]
        box.mark(h(0), "stored")
        box.mark(h(0), "confirmed")
        box.mark_acked("a", [0, 1])
        assert box.prune() == 2
        assert box._db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0  # went with their items
        assert box.get(h(2)).trytes == before[h(2)].trytes
        assert_totals(box._db)


def test_a_version_1_outbox_is_migrated(path):
    """Version 2 only added the released table: a version 1 file is this schema without it. Its marks come from
    what was attached (still in the outbox, or pruned to a tombstone)."""
    with Outbox(path) as box:
        for seq in range(3):
            box.put("a", seq, h(seq), [tx(seq)])
        box.mark(h(0), "attached")
        box.mark(h(1), "attached")
        box.mark(h(1), "received")  # attached once, back to reattach
        box.put("b", 5, h(5), [tx(5)])
        advance(box, h(5), "confirmed")
        box.mark_acked("b", [5])
        box.prune()
        box.put("c", 0, h(9), [tx(9)])  # only received: no history
        box.put("b", 6, h(6), [tx(6)])
    to_version_2_layout(path)
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE released; UPDATE meta SET value = '1' WHERE key = 'schema';")
    db.close()
    with Outbox(path) as box:
        assert box.released() == {"a": 1, "b": 5}
        assert box._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "4"
        assert [it.seq for it in box.next_batch("received", 10)] == [1, 2, 0, 6]
    with Outbox(path) as box:
        assert box.released() == {"a": 1, "b": 5}
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
    db.commit()
    db.close()
    with pytest.raises(OutboxCorrupt, match="schema version 5, expected 4"):
        Outbox(path)


@pytest.mark.parametrize("old", STATES)
@pytest.mark.parametrize("new", STATES)
def test_state_machine(path, old, new):
    with Outbox(path) as box:
        box.put("d", 1, h(1), [tx()])
        advance(box, h(1), old)
        if new in TRANSITIONS[old]:
            box.mark(h(1), new)
            assert box.get(h(1)).state == new
        else:
            with pytest.raises(IllegalTransition) as e:
                box.mark(h(1), new)
            assert e.value.old == old and e.value.new == new
            assert old in str(e.value) and new in str(e.value)
            assert box.get(h(1)).state == old


def test_mark_info_trytes_and_reattach(path):
    with Outbox(path) as box:
        body = [btx(h(1), 0), btx(h(1), 1, 1)]
        box.put("d", 1, h(1), body)
        box.mark(h(1), "attached", trytes=[attached(body[0], 5), attached(body[1], 6)], tail="T" * 81)
        # only the attachment is written: the body stays as put, the row holds 243 trytes per transaction
        assert box._db.execute("SELECT trytes FROM bodies").fetchall() == [(",".join(body),)]
        assert [len(r[0]) for r in box._db.execute("SELECT suffix FROM attachments")] == [2 * 243]
        box.mark(h(1), "stored", node="http://n")
        box.mark(h(1), "received", reason="not confirmed after 10 min")  # reattach
        box.mark(h(1), "attached", tail="U" * 81)
        it = box.get(h(1))
        assert it.trytes == [attached(body[0], 5), attached(body[1], 6)] and it.attempts == 2
        assert box.get_many([h(1)])[h(1)].trytes == it.trytes == box.next_batch("attached")[0].trytes
        assert it.info == {"tail": "U" * 81, "node": "http://n", "reason": "not confirmed after 10 min"}
        with pytest.raises(UnknownItem):
            box.mark(h(9), "attached")
        with pytest.raises(InvalidValue):
            box.mark(h(1), "stored", trytes=["bad"])
        for bad in ("trytes", [attached(body[0], 7)[:-1] + "a", attached(body[1], 7)]):  # a non-tryte in the nonce
            with pytest.raises(InvalidValue, match="trytes_list"):
                box.mark(h(1), "stored", trytes=bad)
        index = slice(*SPAN["current_index"])
        odd = attached(body[1], 7)
        with pytest.raises(InvalidValue, match=r"trytes_list\[1\]: expected 2673 trytes"):  # the index read is checked
            box.mark(h(1), "stored", trytes=[attached(body[0], 7), odd[:index.start] + "?" + odd[index.start + 1:]])
        with pytest.raises(InvalidValue, match=r"trytes_list\[1\]: a transaction of bundle"):
            box.mark(h(1), "stored", trytes=[attached(body[0], 7), attached(btx(h(2)), 7)])
        with pytest.raises(InvalidValue, match="has 2 transactions in the outbox, got 1"):
            box.mark(h(1), "stored", trytes=[attached(body[0], 7)])
        assert box.get(h(1)).state == "attached"  # a failed mark changes nothing
        assert box.get(h(1)).trytes == it.trytes
        assert_totals(box._db)
        assert box.stats()["bytes"] == 2 * 2673
        assert box.reattached() == []  # sent back without the forwarder's reattach_from
        box.put("d", 2, h(2), [tx(1)])
        box.put("d", 3, h(3), [tx(2)])
        for k in (3, 2):
            box.mark(h(k), "attached")
            box.mark(h(k), "stored")
            box.mark(h(k), "received", reattach_from=7)
        assert box.reattached() == [h(2), h(3)]  # receive order


def test_refuse_new_applies_back_pressure_and_recovers(path):
    with Outbox(path, max_items=3) as box:
        for i in range(3):
            assert box.put("d", i, h(i), [tx()])
        with pytest.raises(OutboxFull) as e:
            box.put("d", 3, h(3), [tx()])
        assert e.value.depth == 3 and e.value.bytes == 3 * 2673
        assert box.put("d", 0, h(0), [tx()]) is False  # duplicates are answered even when full
        advance(box, h(0), "confirmed")
        with pytest.raises(OutboxFull):  # confirmed but not acknowledged to the device: still owed
            box.put("d", 3, h(3), [tx()])
        box.mark_acked("d", [0])
        assert box.put("d", 3, h(3), [tx()]) is True  # acknowledged rows are out of the budget
        s = box.stats()
        assert s["counters"]["refused"] == 2 and s["backlog"] == 3
        assert box.get(h(3)).state == "received"
        assert box.prune() == 1


def test_mark_acked_many_marks_every_device_and_prunes_in_one_commit(path):
    with Outbox(path) as box:
        for dev, seq in (("a", 0), ("a", 1), ("b", 7), ("b", 8), ("c", 3)):
            box.put(dev, seq, h(seq), [tx()])
        for seq in (0, 1, 7, 3):
            advance(box, h(seq), "confirmed")
        assert box.mark_acked_many({"c": [3]}) == 1 and box.get(h(3)).acked  # acknowledged, not pruned yet
        commits = []
        box._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        # only confirmed, unacknowledged items count: b's 8 is still received, a's 5 does not exist
        assert box.mark_acked_many({"a": [0, 1, 5], "b": [7, 8]}, prune=True) == 3
        box._db.set_trace_callback(None)
        assert len(commits) == 1
        assert box.get(h(0)) is None and box.get(h(7)) is None and box.get(h(8)).state == "received"
        assert box.get(h(3)) is None and box.stats()["counters"]["pruned"] == 4  # the earlier one pruned with them
        assert box.put("c", 3, h(3), [tx()]) is False
        assert box.put("a", 1, h(1), [tx()]) is False  # pruned to a tombstone: still a duplicate
        assert box.mark_acked_many({"b": [7]}) == 0 and box.prune() == 0
        assert_totals(box._db)


def test_put_many_is_one_transaction_with_a_result_per_entry(path):
    with Outbox(path, max_items=4) as box:
        box.put("d", 0, h(0), [tx()])
        box.put("e", 5, h(50), [tx()])
        results = box.put_many([("d", 0, h(0), [tx()]),      # had it: False
                                ("e", 5, h(51), [tx(1)]),    # (device, seq) of another bundle: seq_conflict
                                ("d", 1, h(1), [tx()]),
                                ("d", 2, h(2), [tx()]),
                                ("d", 3, h(3), [tx()]),      # the fifth item: full
                                ("d", 4, h(4), [tx()])])     # behind it: not tried
        assert results[:4] == [False, False, True, True]
        assert isinstance(results[4], OutboxFull) and results[5] is None
        assert [it.seq for it in box.next_batch("received", 10, device="d")] == [0, 1, 2]
        s = box.stats()
        assert s["counters"]["put"] == 4 and s["counters"]["refused"] == 1 and s["counters"]["seq_conflicts"] == 1
        with pytest.raises(InvalidValue):  # a bad entry anywhere: nothing of the call is stored
            box.put_many([("d", 9, h(9), [tx()]), ("d", -1, h(10), [tx()])])
        assert box.get(h(9)) is None
    with Outbox(path, max_bytes=2673) as box:
        results = box.put_many([("f", 0, h(60), [tx(), tx()]), ("f", 1, h(61), [tx()])])
        assert isinstance(results[0], ItemTooLarge) and results[1] is None


def test_get_many_skip_hashes_and_a_commit_without_fsync(path):
    with Outbox(path) as box:
        for i in range(5):
            box.put("d", i, h(i), [tx(i)])
        got = box.get_many([h(1), h(3), h(99)])
        assert sorted(got) == sorted([h(1), h(3)]) and got[h(3)].trytes == [tx(3)]
        bare = box.get_many([h(1), h(3), h(99)], trytes=False)  # the rows without their transactions
        assert bare == {k: v._replace(trytes=[]) for k, v in got.items()}
        assert [it.seq for it in box.next_batch("received", 10, skip_hashes={h(0), h(2)})] == [1, 3, 4]
        assert [it.seq for it in box.next_batch("received", 2, device="d", skip_hashes=[h(1)])] == [0, 2]
        box.mark(h(0), "attached")
        assert box.mark_many([(h(0), "stored", {"tails": ["T"]}), (h(99), "stored", {})], durable=False) == [h(99)]
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again for every other commit
    with Outbox(path) as box:  # committed (the process did not lose power)
        assert box.get(h(0)).state == "stored" and box.get(h(0)).info["tails"] == ["T"]


@pytest.mark.parametrize("direct", [True, False], ids=["json_patch", "read_first"])
def test_mark_merges_info_as_dict_update_on_both_paths(path, direct):
    """mark_many's direct path (an UPDATE per item merging with SQLite's json_patch) and its read-first path
    (taken for a None or a dict value, an item twice, an item gone, or a SQLite without JSON) store the same."""
    with Outbox(path) as box:
        box._json_patch = direct
        for i in range(3):
            box.put("d", i, h(i), [btx(h(i), i)])
        box.mark_many([(h(i), "attached", {"trytes": [attached(btx(h(i), i), 10 + i)], "tails": ["A", "B"], "n": i})
                       for i in range(3)])
        box.mark_many([(h(0), "stored", {"tails": ["C"], "at": 1.5}), (h(1), "stored", {"n": "x", "sub": [1, 2]})])
        assert box.get(h(0)).info == {"tails": ["C"], "n": 0, "at": 1.5}  # a list is replaced, not merged
        assert box.get(h(1)).info == {"tails": ["A", "B"], "n": "x", "sub": [1, 2]}
        assert [box.get(h(i)).trytes for i in range(3)] == [[attached(btx(h(i), i), 10 + i)] for i in range(3)]
        assert box.released() == {"d": 2} and box.get(h(2)).attempts == 1
        box.mark(h(0), "confirmed", node=None, extra={"k": 1})
        assert box.get(h(0)).info == {"tails": ["C"], "n": 0, "at": 1.5, "node": None, "extra": {"k": 1}}
        with pytest.raises(IllegalTransition):
            box.mark_many([(h(1), "confirmed", {"milestone": 3}), (h(2), "confirmed", {"milestone": 3})])
        assert box.get(h(1)).state == "stored" and "milestone" not in box.get(h(1)).info  # nothing kept
        assert box.mark_many([(h(1), "confirmed", {"milestone": 3}), (h(9), "confirmed", {})]) == [h(9)]
        assert box.get(h(1)).state == "confirmed" and box.get(h(1)).info["milestone"] == 3
        assert_totals(box._db)


def test_mark_many_applies_changes_in_order_even_for_one_item_twice(path):
    with Outbox(path) as box:
        for i in range(4):
            box.put("d", i, h(i), [btx(h(i), i)])
        missing = box.mark_many([(h(0), "attached", {"trytes": [attached(btx(h(0)), 9)], "tails": ["A"]}),
                                 (h(1), "attached", {}),
                                 (h(0), "stored", {"stored_at": 5}),   # the same item again: sees the first change
                                 (h(77), "stored", {}),
                                 (h(2), "attached", {"tails": ["C"]})])
        assert missing == [h(77)]
        it = box.get(h(0))
        assert it.state == "stored" and it.trytes == [attached(btx(h(0)), 9)]
        assert it.info == {"tails": ["A"], "stored_at": 5}
        assert it.attempts == 1 and box.get(h(2)).info == {"tails": ["C"]}
        assert box.released() == {"d": 2}
        with pytest.raises(IllegalTransition):  # h(3) received -> stored: nothing of the call is kept
            box.mark_many([(h(2), "stored", {}), (h(3), "stored", {})])
        assert box.get(h(2)).state == "attached" and box.get(h(3)).state == "received"


def test_refuse_new_byte_budget(path):
    with Outbox(path, max_bytes=5 * 2673) as box:
        box.put("d", 0, h(0), [tx()] * 3)
        box.put("d", 1, h(1), [tx()] * 2)
        with pytest.raises(OutboxFull):
            box.put("d", 2, h(2), [tx()])
        with pytest.raises(ItemTooLarge):
            box.put("d", 3, h(3), [tx()] * 6)
        assert box.stats()["bytes"] == 5 * 2673


def test_drop_oldest(path):
    with Outbox(path, max_items=3, max_bytes=4 * 2673, policy="drop_oldest") as box:
        for i in range(5):
            assert box.put("d", i, h(i), [tx()])
        assert [it.seq for it in box.next_batch("received", 10)] == [2, 3, 4]
        assert box.put("d", 5, h(5), [tx()] * 3)  # bytes: evicts 2 and 3 to fit 3 transactions
        assert [it.seq for it in box.next_batch("received", 10)] == [4, 5]
        s = box.stats()
        assert s["counters"]["dropped"] == 4 and s["bytes"] == 4 * 2673
        with pytest.raises(UnknownItem):  # the forwarder learns that its item was dropped
            box.mark(h(2), "attached")
        assert box.put("d", 2, h(2), [tx()])  # a dropped bundle may come again
        assert_totals(box._db)


def test_dead_letters_never_block(path):
    with Outbox(path, max_items=3, max_dead=4) as box:
        for i in range(3):
            box.put("d", i, h(i), [tx()])
        box.mark(h(1), "attached")
        box.reject("d", 1, "node_refused")  # the forwarder's reject: moved out of the queue
        assert [it.seq for it in box.next_batch("received", 10)] == [0, 2]
        assert box.next_batch("attached", 10) == []
        for k in range(6):  # transport rejects, budget full or not: they never raise OutboxFull
            box.reject("d", 100 + k, "bad_frame", raw=b"\x00junk")
        box.reject("other", None, "unknown_device", raw="text")
        assert box.put("d", 3, h(3), [tx()])  # the poisoned item freed its slot
        s = box.stats()
        assert s["rejects"] == {"bad_frame": 6, "node_refused": 1, "unknown_device": 1}
        assert s["dead_letters"] == 4 and s["counters"]["rejected"] == 8
        dl = box.dead_letters(10)
        assert [d.reason for d in dl] == ["unknown_device", "bad_frame", "bad_frame", "bad_frame"]
        assert dl[0].raw == b"text" and dl[1].raw == b"\x00junk"
        box.reject("d", 3, "invalid_bundle")
        assert box.dead_letters(1)[0].raw == tx().encode()  # the item's trytes when no raw is given
        assert_totals(box._db)


def test_stats_depth_age_and_devices(path):
    clock = Clock(1000.0)
    with Outbox(path, clock=clock) as box:
        assert box.stats()["oldest_age"] is None
        box.put("a", 1, h(1), [tx()])
        clock.t = 1010
        box.put("a", 2, h(2), [tx()] * 2)
        box.put("b", 1, h(3), [tx()], received_at=995.0)
        clock.t = 1030
        advance(box, h(3), "confirmed")
        advance(box, h(1), "stored")
        s = box.stats()
        assert s["depth"] == {"received": 1, "attached": 0, "stored": 1, "confirmed": 1}
        assert s["backlog"] == 3 and s["bytes"] == 4 * 2673
        assert s["oldest_age"] == 30.0  # b's item is confirmed: it no longer counts as waiting
        assert s["devices"] == {"a": {"pending": 2, "unacked": 0, "bytes": 3 * 2673, "oldest_age": 30.0},
                                "b": {"pending": 0, "unacked": 1, "bytes": 2673, "oldest_age": None}}
        assert s["budget"]["policy"] == "refuse_new" and s["counters"]["put"] == 3


def test_ack_ready_in_seq_order(path):
    with Outbox(path) as box:
        for seq in (5, 3, 4, 9):
            box.put("d", seq, h(seq), [tx()])
            advance(box, h(seq), "confirmed")
        box.put("d", 1, h(1), [tx()])
        box.put("e", 2, h(2), [tx()])
        advance(box, h(2), "confirmed")
        assert [i.seq for i in box.ack_ready("d")] == [3, 4, 5, 9]
        assert box.mark_acked("d", [3, 4, 1, 77]) == 2  # only confirmed items can be acknowledged
        assert [i.seq for i in box.ack_ready("d")] == [5, 9]
        assert box.next_batch("confirmed", 10)[0].seq == 5  # acknowledged rows leave the batches
        assert box.to_acknowledge() == [("d", 5), ("d", 9), ("e", 2)] and box.to_acknowledge(1) == [("d", 5)]
        assert box.prune() == 2 and box.prune() == 0
        assert_totals(box._db)


def test_restart_persistence(path):
    with Outbox(path) as box:
        for i in range(6):
            box.put("d", i, h(i), [tx(i)])
        advance(box, h(0), "confirmed")
        box.mark(h(1), "attached", tail="X" * 81)
        box.reject("d", 99, "bad_frame", raw=b"r")
        before = box.stats()
    with Outbox(path) as box:
        after = box.stats()
        assert after["depth"] == before["depth"] and after["counters"] == before["counters"]
        assert after["rejects"] == {"bad_frame": 1}
        assert box.get(h(1)).info == {"tail": "X" * 81}
        assert [it.seq for it in box.next_batch("received", 10)] == [2, 3, 4, 5]
        assert box.put("d", 2, h(2), [tx()]) is False


def test_corrupt_file_is_refused_not_replaced(path):
    with open(path, "wb") as f:
        f.write(b"this is not a database" * 200)
    with pytest.raises(OutboxCorrupt):
        Outbox(path)
    with open(path, "rb") as f:
        assert f.read(4) == b"this"  # left for the user to inspect


def test_connections_creating_one_new_file_at_once_all_open_it(tmp_path):
    """Switching a new file to WAL gets SQLite's "database is locked" at once, without the busy timeout, when another
    connection is creating it too (a Forwarder given the path opens its own in its thread while the application opens
    its Outbox): that must not read as a corrupt database."""
    import threading

    failed = []

    def open_it(p, go):
        go.wait()
        try:
            with Outbox(p) as box:
                box.put("d", 0, h(0), [tx()])
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            failed.append(e)

    for i in range(60):
        p, go = str(tmp_path / ("o%d.db" % i)), threading.Event()
        threads = [threading.Thread(target=open_it, args=(p, go)) for _ in range(3)]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join()
    assert failed == []


def test_a_lock_held_past_the_timeout_is_a_storage_error_not_corruption(path, monkeypatch):
    monkeypatch.setattr(outbox_module, "_BUSY_TIMEOUT_S", 0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutboxStorageError, match="locked by another connection"):
            Outbox(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Outbox(path) as box:  # the file was left alone, and opens once the lock is gone
        assert box.stats()["backlog"] == 0


def test_argument_checks(path):
    with pytest.raises(InvalidValue):
        Outbox(path, policy="drop_newest")
    with Outbox(path) as box:
        for args in (("", 1, h(1), [tx()]), ("d", -1, h(1), [tx()]), ("d", 1, "A" * 80, [tx()]),
                     ("d", 1, h(1), []), ("d", 1, h(1), tx()), ("d", 1, h(1), ["a" * 2673])):
            with pytest.raises(InvalidValue):
                box.put(*args)
        assert box.stats()["backlog"] == 0


@pytest.mark.parametrize("policy", ["refuse_new", "drop_oldest"])
def test_random_operations_keep_invariants(path, policy):
    rng = random.Random(policy)
    with Outbox(path, max_items=8, max_bytes=12 * 2673, policy=policy, max_dead=5) as box:
        for step in range(400):
            op = rng.random()
            i = rng.randrange(60)
            try:
                if op < 0.4:
                    box.put("d%d" % (i % 4), i, h(i), [tx(i)] * (1 + i % 3))
                elif op < 0.75:
                    old = rng.choice(STATES[:3])
                    for it in box.next_batch(old, rng.randint(1, 3)):
                        box.mark(it.bundle_hash, rng.choice(TRANSITIONS[old]))
                elif op < 0.85:
                    dev = "d%d" % (i % 4)
                    box.mark_acked(dev, [it.seq for it in box.ack_ready(dev)])
                elif op < 0.93:
                    box.reject("d%d" % (i % 4), i, rng.choice(["a", "b"]))
                else:
                    box.prune()
            except OutboxFull:
                assert policy == "refuse_new"
            s = box.stats()
            assert s["backlog"] <= 8 and s["bytes"] <= 12 * 2673
            assert s["backlog"] == sum(s["depth"].values())
            assert_totals(box._db)
        assert s["counters"]["refused" if policy == "refuse_new" else "dropped"] > 0


# -- crash recovery ---------------------------------------------------------------------------------------------------

CHILD = textwrap.dedent('''
    import random, sys
    sys.path.insert(0, sys.argv[4])
    from iota_edge.gateway.outbox import Outbox
    path, start, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    T = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    def h(i):
        out = ""
        for _ in range(81):
            out += T[i % 27]
            i //= 27
        return out
    rng = random.Random(seed)
    out = sys.stdout
    with Outbox(path, max_items=10000) as box:
        print("READY", flush=True)
        i = start
        while True:
            dev = "d%d" % (i % 3)
            r = box.put(dev, i, h(i), [T[i % 27] * 2673] * (1 + i % 2))
            print("P" if r else "D", i, flush=True)      # printed only after the commit returned
            for state, nxt in (("stored", "confirmed"), ("attached", "stored"), ("received", "attached")):
                for it in box.next_batch(state, rng.randint(0, 2)):
                    if state == "stored" and rng.random() < 0.1:
                        nxt = "received"                   # reattach
                    box.mark(it.bundle_hash, nxt, round=seed)
                    print("M", it.bundle_hash, nxt, flush=True)
            if rng.random() < 0.3:
                ready = box.ack_ready(dev)
                if ready:
                    box.mark_acked(dev, [it.seq for it in ready])
                    for it in ready:
                        print("A", it.bundle_hash, flush=True)
            if rng.random() < 0.05:
                box.prune()
                print("X", flush=True)
            i += 1
''')


def _check_after_crash(path, reported_puts, last_state, acked):
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT bundle_hash, device, seq, state, acked, attempts, nbytes FROM items").fetchall()
        tomb = db.execute("SELECT bundle_hash, device, seq FROM tombstones").fetchall()
        assert_totals(db)
    finally:
        db.close()
    items = {r[0]: r for r in rows}
    tombs = {t[0]: t for t in tomb}
    assert len(items) == len(rows) and not set(items) & set(tombs), "an item is both live and pruned"
    for r in rows:  # no impossible state
        bh, device, seq, state, is_acked, attempts, nbytes = r
        assert state in STATES and (not is_acked or state == "confirmed")
        assert device == "d%d" % (seq % 3) and bh == h(seq) and nbytes == 2673 * (1 + seq % 2)
        assert attempts >= (0 if state == "received" else 1)
    keys = [(r[1], r[2]) for r in rows] + [(t[1], t[2]) for t in tomb]
    assert len(keys) == len(set(keys)), "a (device, seq) is stored twice"
    for i in reported_puts:  # every reported put is there exactly once (live or pruned after its ack)
        assert (h(i) in items) + (h(i) in tombs) == 1, "reported put %d lost" % i
    for bh, state in last_state.items():  # the state last seen or reported, or one unreported step past it
        if bh in tombs:  # pruning needs an ack, an ack needs confirmed: the child died right after, or reported it
            assert bh in acked or state == "confirmed", (bh[:9], state)
            continue
        actual = items[bh][3]
        assert actual == state or actual in TRANSITIONS[state], (bh[:9], state, actual)
    for bh in acked:
        assert bh in tombs or (items[bh][3] == "confirmed" and items[bh][4] == 1)
    return items


def test_sigkill_crash_recovery(tmp_path):
    path = str(tmp_path / "crash.db")
    seed = int(os.environ.get("IOTA_EDGE_CRASH_SEED", "20261122"))  # set it to replay or to explore
    rng = random.Random(seed)
    reported, last_state, acked = set(), {}, set()
    start, kills, mid_run = 0, 0, 0
    for rnd in range(22):
        log = str(tmp_path / ("child%d.log" % rnd))
        with open(log, "w") as out:
            child = subprocess.Popen([sys.executable, "-c", CHILD, path, str(start), str(seed + rnd), ROOT],
                                     stdout=out, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # wait for READY: kill while it works, not while it imports
                with open(log) as f:
                    if f.read(5) == "READY":
                        break
                assert child.poll() is None, child.stderr.read().decode()
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))
            child.kill()  # SIGKILL
            child.wait()
            kills += child.returncode == -9
        with open(log) as f:
            text = f.read()
        lines = text.split("\n")[:-1]  # a line cut by the kill has no newline: ignore it
        new = 0
        for line in lines[1:]:
            kind, _, arg = line.partition(" ")
            if kind in ("P", "D"):  # D: the outbox said it already had it, so it must be there too
                reported.add(int(arg))
                new += kind == "P"
            elif kind == "M":
                bh, state = arg.split(" ")
                last_state[bh] = state
                acked.discard(bh)
            elif kind == "A":
                acked.add(arg)
        mid_run += new > 0
        items = _check_after_crash(path, reported, last_state, acked)
        # The stored states passed the check: they are the model now (an unreported last commit included).
        last_state = {bh: r[3] for bh, r in items.items()}
        acked = {bh for bh, r in items.items() if r[4]}
        with Outbox(path) as box:  # reopens cleanly; the next child resumes from the stored states
            assert box.stats()["backlog"] >= 0
        # Resume a little before the last reported put: the re-puts must be answered as duplicates.
        start = max(reported, default=-1) + 1 - rng.randint(0, 3)
        start = max(start, 0)
    assert kills >= 20 and mid_run >= 15, (seed, kills, mid_run)
    assert len(reported) >= 50, len(reported)


def test_tombstones_are_bounded(path):
    with Outbox(path, max_tombstones=3) as box:
        for i in range(5):
            box.put("d", i, h(i), [tx()])
            advance(box, h(i), "confirmed")
            box.mark_acked("d", [i])
            box.prune()
        assert box._db.execute("SELECT seq FROM tombstones ORDER BY seq").fetchall() == [(2,), (3,), (4,)]
        assert box.put("d", 4, h(4), [tx()]) is False
        assert box.put("d", 0, h(0), [tx()]) is True  # forgotten: the bound is the documented trade-off
        for i in range(5, 9):  # four pruned in one go: the newest three stay
            box.put("d", i, h(i), [tx()])
            advance(box, h(i), "confirmed")
        box.mark_acked("d", range(5, 9))
        assert box.prune() == 4
        assert box._db.execute("SELECT seq FROM tombstones ORDER BY seq").fetchall() == [(6,), (7,), (8,)]


def test_disk_full_is_an_outbox_error_and_recovers(path):
    from iota_edge.gateway.outbox import OutboxStorageError
    with Outbox(path) as box:
        box.put("d", 0, h(0), [tx()])
        pages = box._db.execute("PRAGMA page_count").fetchone()[0]
        box._db.execute("PRAGMA max_page_count = %d" % (pages + 2))  # a tiny disk
        with pytest.raises(OutboxStorageError) as e:
            for i in range(1, 50):
                box.put("d", i, h(i), [tx(i)] * 3)
        assert isinstance(e.value, IotaEdgeError) and "full" in str(e.value)
        stored = box.stats()["backlog"]  # reads still work; the failed put left nothing behind
        assert_totals(box._db)
        assert box.get(h(i)) is None
        box._db.execute("PRAGMA max_page_count = 1073741823")
        assert box.put("d", i, h(i), [tx(i)] * 3)
        assert box.stats()["backlog"] == stored + 1


def test_damaged_page_is_detected_on_open(path):
    with Outbox(path) as box:
        for i in range(40):
            box.put("d", i, h(i), [tx(i)])
        box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # move everything into the main file
        page = box._db.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as f:  # scribble over a b-tree page in the middle of the file
        f.seek(page * 3)
        f.write(b"\xff" * 200)
    with pytest.raises(OutboxCorrupt):
        Outbox(path)
