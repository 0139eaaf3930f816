"""Tip selection, the coordinator's confirmations, balances as seen by tips, and persistence across restarts."""
import threading

import pytest

from _node_helpers import NULL_HASH, address_of, attach, data_bundle, genesis, hash_of, value_bundle

from iota_edge.client import NodeClient
from iota_edge.errors import InvalidValue, NodeError
from simulators.node import Node

MWM = 3


def open_node(path, **kw):
    kw.setdefault("snapshot", {genesis(0): 1000})
    return Node(db=str(path / "node.db"), mwm=MWM, milestone_interval=0, seed=3, **kw)


def send(client, address, message=b"m", depth=3):
    tips = client.get_transactions_to_approve(depth)
    trytes = attach(data_bundle(address, message), tips.trunk, tips.branch, MWM)
    client.store_transactions(trytes)
    return trytes


def test_tip_selection_returns_valid_tails(tmp_path):
    with open_node(tmp_path) as node:
        c = NodeClient(node.url)
        tails = set()
        for i in range(6):
            tails.add(hash_of(send(c, address_of(i), b"x" * (3000 if i % 2 else 10))[0]))
        milestone = c.get_node_info()["latestMilestone"]
        for _ in range(20):
            trunk, branch = c.get_transactions_to_approve(3)
            assert {trunk, branch} <= set(c.get_tips()) | {milestone}
            assert {trunk, branch} <= tails | {milestone}
            assert c.check_consistency([trunk, branch]).state


def test_milestones_confirm_everything_approved(tmp_path):
    with open_node(tmp_path) as node:
        c = NodeClient(node.url)
        sent = [send(c, address_of(i), b"y" * 3000) for i in range(4)]
        hashes = [hash_of(t) for trytes in sent for t in trytes]
        assert c.get_inclusion_states(hashes) == [False] * len(hashes)
        before = c.get_node_info()["latestMilestoneIndex"]
        index = node.issue_milestone()
        assert index > before
        assert c.get_inclusion_states(hashes) == [True] * len(hashes)
        info = c.get_node_info()
        assert info["latestMilestoneIndex"] == info["latestSolidSubtangleMilestoneIndex"] == index
        trunk, branch = c.get_transactions_to_approve(3)
        assert trunk == branch == info["latestMilestone"]  # nothing left unconfirmed
        assert node.issue_milestone() == index  # no new milestone without something to confirm


def test_coordinator_ticks_on_its_own(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.05) as node:
        c = NodeClient(node.url)
        tail = hash_of(send(c, address_of(1))[0])
        assert c.wait_confirmed([tail], timeout=20)


def test_lazy_tips_are_not_selected(tmp_path):
    with open_node(tmp_path) as node:
        c = NodeClient(node.url)
        first = c.get_node_info()["latestMilestone"]
        for i in range(5):  # milestones 2..6
            send(c, address_of(i))
            node.issue_milestone()
        latest = c.get_node_info()["latestMilestoneIndex"]
        assert latest == 6
        lazy = attach(data_bundle(address_of(50)), first, first, MWM)  # approves milestone 1 only
        c.store_transactions(lazy)
        fresh = send(c, address_of(51))
        lazy_tail, fresh_tail = hash_of(lazy[0]), hash_of(fresh[0])
        assert set(c.get_tips()) >= {lazy_tail, fresh_tail}
        for _ in range(10):
            assert lazy_tail not in c.get_transactions_to_approve(3)
        assert any(lazy_tail in c.get_transactions_to_approve(15) for _ in range(30))
        with pytest.raises(NodeError) as e:
            c.get_transactions_to_approve(3, reference=lazy_tail)
        assert (e.value.status, str(e.value)) == (400, "reference transaction is too old")
        assert c.get_transactions_to_approve(3, reference=fresh_tail).branch == fresh_tail


def test_balances_as_seen_by_tips(tmp_path):
    with open_node(tmp_path) as node:
        c = NodeClient(node.url)
        tips = c.get_transactions_to_approve(3)
        trytes = attach(value_bundle(address_of(1), 250, remainder=address_of(2)), tips.trunk, tips.branch, MWM)
        c.store_transactions(trytes)
        tail = hash_of(trytes[0])
        addresses = [genesis(0), address_of(1), address_of(2)]
        assert c.get_balances(addresses).balances == [1000, 0, 0]  # confirmed only
        seen = c.get_balances(addresses, tips=[tail])
        assert seen.balances == [0, 250, 750] and seen.references == [tail]
        node.issue_milestone()
        confirmed = c.get_balances(addresses)
        assert confirmed.balances == [0, 250, 750]
        assert confirmed.references == [c.get_node_info()["latestMilestone"]]
        assert confirmed.milestone_index == c.get_node_info()["latestMilestoneIndex"]


def test_state_survives_a_restart(tmp_path):
    with open_node(tmp_path) as node:
        c = NodeClient(node.url)
        tips = c.get_transactions_to_approve(3)
        paid = attach(value_bundle(address_of(1), 300, remainder=address_of(2)), tips.trunk, tips.branch, MWM)
        c.store_transactions(paid)
        node.issue_milestone()
        partial = send(c, address_of(3), b"z" * 3000)
        unconfirmed = send(c, address_of(4))
        waiting = attach(data_bundle(address_of(5), b"w" * 3000), hash_of(unconfirmed[0]), NULL_HASH, MWM)
        c.store_transactions(waiting[:2])  # pending: its last transaction arrives after the restart
        info = c.get_node_info()
    with open_node(tmp_path, snapshot=None) as node:
        c = NodeClient(node.url)
        again = c.get_node_info()
        assert (again["latestMilestone"], again["latestMilestoneIndex"]) == (info["latestMilestone"],
                                                                             info["latestMilestoneIndex"])
        assert c.get_balances([genesis(0), address_of(1), address_of(2)]).balances == [0, 300, 700]
        assert c.were_addresses_spent_from([genesis(0)]) == [True]
        all_sent = paid + partial + unconfirmed
        assert c.get_trytes([hash_of(t) for t in all_sent]) == all_sent
        assert c.get_inclusion_states([hash_of(paid[0]), hash_of(unconfirmed[0])]) == [True, False]
        assert c.find_transactions(addresses=[address_of(5)]) == []
        c.store_transactions(waiting[2:])
        assert sorted(c.find_transactions(addresses=[address_of(5)])) == sorted(hash_of(t) for t in waiting)
        # a second spend from the genesis address is still a double spend after the restart
        with pytest.raises(NodeError) as e:
            c.store_transactions(attach(value_bundle(address_of(6), 1000, timestamp=1700000002),
                                        tips.trunk, tips.branch, MWM))
        assert "double spend" in str(e.value)


def test_a_database_keeps_its_snapshot(tmp_path):
    with open_node(tmp_path):
        pass
    with pytest.raises(InvalidValue):
        open_node(tmp_path, snapshot={genesis(0): 999}).start()
    with open_node(tmp_path, snapshot={genesis(0): 1000}):  # the same one is fine
        pass


def test_bad_snapshots(tmp_path):
    for bad in ({"abc": 1}, {genesis(0): -1}, {genesis(0): 2**60}, [1, 2]):
        with pytest.raises(InvalidValue):
            Node(db=":memory:", snapshot=bad, milestone_interval=0).start()
    path = tmp_path / "snapshot.json"
    path.write_text('{"%s": 5}' % genesis(0))
    with Node(db=":memory:", mwm=MWM, snapshot=str(path), milestone_interval=0) as node:
        assert NodeClient(node.url).get_balances([genesis(0)]).balances == [5]


def test_concurrent_clients(tmp_path):
    with open_node(tmp_path) as node:
        bundles = [attach(data_bundle(address_of(i), b"c"), NULL_HASH, NULL_HASH, MWM) for i in range(12)]
        errors = []

        def worker(part):
            c = NodeClient(node.url)
            try:
                for trytes in part:
                    c.store_transactions(trytes)
                    c.get_transactions_to_approve(3)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(bundles[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        c = NodeClient(node.url)
        hashes = [hash_of(t) for trytes in bundles for t in trytes]
        assert "9" * 2673 not in c.get_trytes(hashes)
        node.issue_milestone()
        assert all(c.get_inclusion_states(hashes))
