"""Durability: SIGKILL the node in the middle of storeTransactions, 20 times; nothing acknowledged is lost and no
bundle is ever partly visible.

Each batch carries the tail that completes the previous batch's 2-transaction bundle, the non-tail half of a new one
(pending until the next batch) and a 1-transaction bundle. Even rounds kill the node from inside, right after a random
row write of the SQLite transaction (IOTA_EDGE_NODE_CRASH_AFTER, within the first two batches); odd rounds kill it from
outside at a random moment of the first batch's request.
"""
import random
import signal
import threading
import time

from _node_helpers import (NULL_HASH, address_of, attach, data_bundle, hash_of, have_native_pow,
                           start_node_process)

from iota_edge.client import NodeClient
from iota_edge.errors import NodeError

MWM = 3
ROUNDS = 20
BATCHES = 60 if have_native_pow() else 24  # outside kills may land after a batch or two: keep enough in reserve
WRITES_PER_BATCH = 6  # 3 pending rows + 3 rows made visible


def make_batches():
    pairs = [attach(data_bundle(address_of(1000 + i), b"d" * 1500), NULL_HASH, NULL_HASH, MWM)
             for i in range(BATCHES + 1)]
    singles = [attach(data_bundle(address_of(2000 + i), b"s"), NULL_HASH, NULL_HASH, MWM) for i in range(BATCHES)]
    assert all(len(p) == 2 for p in pairs)
    batches = [pairs[0][1:] + singles[0]]
    for i in range(1, BATCHES):
        batches.append(pairs[i][1:] + pairs[i - 1][:1] + singles[i])
    bundles = pairs[:BATCHES] + singles  # pairs[BATCHES - 1] completes only in the final check
    return batches, bundles, pairs[BATCHES - 1][:1]


def check(url, bundles, acked):
    """Every bundle is wholly visible or wholly invisible; every acknowledged complete bundle is visible."""
    hashes = [[hash_of(t) for t in trytes] for trytes in bundles]
    found = NodeClient(url, retries=0).get_trytes([h for group in hashes for h in group])
    seen = dict(zip([h for group in hashes for h in group], [t != "9" * 2673 for t in found]))
    for group in hashes:
        states = [seen[h] for h in group]
        assert all(states) or not any(states), "part of a bundle is visible"
        if all(h in acked for h in group):
            assert all(states), "an acknowledged bundle was lost"


def send_until_killed(url, batches, start, acked, in_flight, durations):
    c = NodeClient(url, retries=0, timeout=20)
    k = start
    while k < len(batches):
        in_flight.set()
        started = time.monotonic()
        try:
            c.store_transactions(batches[k])
        except NodeError as e:
            assert e.status is None, e  # a refusal would be a bug: only a dead node may fail us
            return k
        durations.append(time.monotonic() - started)
        acked.update(hash_of(t) for t in batches[k])
        k += 1
    return k


def test_sigkill_during_store_transactions(tmp_path):
    rng = random.Random(20240611)
    batches, bundles, last_tail = make_batches()
    db = tmp_path / "node.db"
    acked = set()
    durations = []  # of acknowledged batches: the window an outside kill aims at
    k = 0
    kills = 0
    for round_ in range(ROUNDS):
        inside = round_ % 2 == 0
        env = {"IOTA_EDGE_NODE_CRASH_AFTER": str(rng.randint(1, 2 * WRITES_PER_BATCH))} if inside else {}
        proc, url = start_node_process(db, MWM, env=env)
        try:
            check(url, bundles, acked)  # after the previous kill
            in_flight = threading.Event()
            result = []
            sender = threading.Thread(target=lambda: result.append(send_until_killed(url, batches, k, acked,
                                                                                     in_flight, durations)))
            sender.start()
            if not inside:
                in_flight.wait(10)  # a batch is on its way: kill the node somewhere inside its request
                typical = sorted(durations)[len(durations) // 2] if durations else 0.05
                threading.Event().wait(rng.uniform(0.0, 1.2 * typical))
                proc.send_signal(signal.SIGKILL)
            assert proc.wait(30) == -signal.SIGKILL
            sender.join(30)
            k = result[0]
            kills += 1
            assert k < len(batches), "ran out of batches before the node was killed"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    assert kills == ROUNDS
    proc, url = start_node_process(db, MWM)
    try:
        check(url, bundles, acked)
        c = NodeClient(url, retries=0)
        # only what was never acknowledged is sent again: pending halves acknowledged before a kill must be there
        for trytes in batches + [last_tail]:
            rest = [t for t in trytes if hash_of(t) not in acked]
            if rest:
                c.store_transactions(rest)
        for trytes in bundles:
            assert "9" * 2673 not in c.get_trytes([hash_of(t) for t in trytes])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        proc.stdout.close()
        proc.stderr.close()
