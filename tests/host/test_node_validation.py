"""What the node refuses on storeTransactions, and that a refused call changes nothing (spec sections 2, 6, 7.2)."""
import time

import pytest

from _node_helpers import NULL_HASH, address_of, attach, data_bundle, genesis, hash_of, value_bundle

from iota_edge.client import NodeClient
from iota_edge.errors import NodeError
from iota_edge.pow import search_nonce
from iota_edge.transaction import Transaction
from simulators.node import Node

MWM = 3
BALANCE = 1000


@pytest.fixture
def node(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, snapshot={genesis(0): BALANCE, genesis(1): BALANCE},
              milestone_interval=0, seed=2) as n:
        yield n


@pytest.fixture
def client(node):
    return NodeClient(node.url, retries=0)


def milestone(client):
    return client.get_node_info()["latestMilestone"]


def refused(client, trytes, words):
    with pytest.raises(NodeError) as e:
        client.store_transactions(trytes)
    assert e.value.status == 400
    assert str(e.value).startswith("Invalid trytes input")
    assert words in str(e.value), str(e.value)
    return e.value


def visible(client, trytes):
    return [t != "9" * 2673 for t in client.get_trytes([hash_of(t) for t in trytes])]


def with_fields(trytes, **changes):
    return Transaction.from_trytes(trytes).copy(**changes).to_trytes()


def test_bad_trytes(client):
    good = attach(data_bundle(address_of(1)), NULL_HASH, NULL_HASH, MWM)[0]
    refused(client, [good[:-1] + "a"], "")
    refused(client, [good[:2000]], "")
    # value trits 33..80 set (spec 2): only the first 11 value trytes may be non-zero
    bad = good[:2268 + 11] + "A" + good[2268 + 12:]
    refused(client, [bad[:2646] + search_nonce(bad, MWM)], "value")


def test_weight_below_mwm(client):
    ms = milestone(client)
    for ts in range(100):  # a 1-MWM search lands on weight >= 3 one time in 9: pick one that does not
        trytes = attach(data_bundle(address_of(1), timestamp=1700000000 + ts), ms, ms, 1)
        if Transaction.from_trytes(trytes[0]).weight < MWM:
            break
    refused(client, trytes, "weight magnitude")
    assert visible(client, trytes) == [False]


def test_timestamps(client):
    ms = milestone(client)
    now_ms = int(time.time() * 1000)
    future = attach(data_bundle(address_of(1)), ms, ms, MWM, timestamp_ms=now_ms + 3 * 3600 * 1000)
    refused(client, future, "invalid timestamp")
    soon = attach(data_bundle(address_of(2)), ms, ms, MWM, timestamp_ms=now_ms + 3600 * 1000)
    client.store_transactions(soon)  # within IRI's two hours
    assert visible(client, soon) == [True]


def test_forged_signature(client):
    bundle = value_bundle(address_of(1), 400)
    forged = list(bundle)
    tx = Transaction.from_trytes(forged[1])  # the input's first fragment (outputs come first)
    assert tx.value == -BALANCE
    fragment = tx.signature_message_fragment
    forged[1] = tx.copy(signature_message_fragment=("A" if fragment[0] != "A" else "B") + fragment[1:]).to_trytes()
    ms = milestone(client)
    trytes = attach(forged, ms, ms, MWM)
    refused(client, trytes, "signature")
    assert visible(client, trytes) == [False] * len(trytes)
    assert client.were_addresses_spent_from([genesis(0)]) == [False]


def test_bundle_hash_and_value_sum(client):
    ms = milestone(client)
    bundle = data_bundle(address_of(1), b"q" * 3000)
    changed = [bundle[0], with_fields(bundle[1], address=address_of(7)), bundle[2]]  # essence changed, hash kept
    refused(client, attach(changed, ms, ms, MWM), "bundle hash")
    unbalanced = [with_fields(bundle[0], value=5)] + bundle[1:]
    refused(client, attach(unbalanced, ms, ms, MWM), "rule")


def test_double_spend_and_overdraft(client, node):
    ms = milestone(client)
    first = attach(value_bundle(address_of(1), 400, remainder=address_of(2)), ms, ms, MWM)
    client.store_transactions(first)
    assert client.were_addresses_spent_from([genesis(0), address_of(1)]) == [True, False]
    second = attach(value_bundle(address_of(3), 1000, timestamp=1700000001), ms, ms, MWM)
    refused(client, second, "double spend")
    # a reattachment of the same bundle (same bundle hash) is no new spend
    again = attach([t[:2430] + "9" * 162 + t[2592:] for t in first], ms, ms, MWM, timestamp_ms=1)
    assert again != first
    client.store_transactions(again)
    node.issue_milestone()
    assert client.get_balances([genesis(0), address_of(1), address_of(2)]).balances == [0, 400, 600]
    # spending more than the address holds
    overdraft = attach(value_bundle(address_of(4), 1500, balance=1500, key_index=1), ms, ms, MWM)
    refused(client, overdraft, "holds 1000")
    assert client.were_addresses_spent_from([genesis(1)]) == [False]


def test_a_refused_call_keeps_nothing(client):
    ms = milestone(client)
    good = attach(data_bundle(address_of(1)), ms, ms, MWM)
    bad = attach(data_bundle(address_of(2)), ms, ms, 1)
    while Transaction.from_trytes(bad[0]).weight >= MWM:
        bad = attach(data_bundle(address_of(2), timestamp=int(time.time()) - 5), ms, ms, 1)
    refused(client, good + bad, "weight")
    assert visible(client, good) == [False]
    spend = attach(value_bundle(address_of(3), 10), ms, ms, MWM)
    overdraft = attach(value_bundle(address_of(4), 1500, balance=1500, key_index=1), ms, ms, MWM)
    refused(client, spend + overdraft, "holds")
    assert visible(client, spend) == [False] * len(spend)
    assert client.were_addresses_spent_from([genesis(0)]) == [False]


def test_incomplete_bundles_are_never_visible(client):
    ms = milestone(client)
    trytes = attach(data_bundle(address_of(1), b"p" * 3000), ms, ms, MWM)  # three transactions
    assert len(trytes) == 3
    client.store_transactions([trytes[2], trytes[0]])  # head and tail, not the middle
    assert visible(client, trytes) == [False] * 3
    assert client.find_transactions(addresses=[address_of(1)]) == []
    assert client.get_tips() == [ms]
    assert client.get_inclusion_states([hash_of(trytes[0])]) == [False]
    tips = client.get_transactions_to_approve(3)
    assert hash_of(trytes[0]) not in tips
    client.store_transactions([trytes[1]])
    assert visible(client, trytes) == [True] * 3
    assert client.get_tips() == [hash_of(trytes[0])]


def test_incomplete_invalid_bundle_is_refused_when_completed(client):
    ms = milestone(client)
    bundle = value_bundle(address_of(1), 400)
    tx = Transaction.from_trytes(bundle[2])  # second fragment of the input
    bundle[2] = tx.copy(signature_message_fragment="M" * 2187).to_trytes()
    trytes = attach(bundle, ms, ms, MWM)
    client.store_transactions(trytes[:2])  # accepted as pending: nothing can be judged yet
    refused(client, trytes[2:], "signature")
    assert visible(client, trytes) == [False] * len(trytes)


def test_approving_unknown_or_non_tail_transactions(client):
    ms = milestone(client)
    refused(client, attach(data_bundle(address_of(1)), "C" * 81, ms, MWM), "not a transaction this node holds")
    three = attach(data_bundle(address_of(2), b"m" * 3000), ms, ms, MWM)
    client.store_transactions(three)
    refused(client, attach(data_bundle(address_of(3)), ms, hash_of(three[1]), MWM), "not a tail")
    # two bundles in one call, the second approving the first: order in the call does not matter
    first = attach(data_bundle(address_of(4)), ms, ms, MWM)
    second = attach(data_bundle(address_of(5)), hash_of(first[0]), ms, MWM)
    client.store_transactions(second + first)
    assert visible(client, first + second) == [True, True]
