"""NodeClient against the node: typed results, batching, retries only on connection errors, send/wait_confirmed."""

import pytest

from _node_helpers import address_of, data_bundle, hash_of

from iota_edge.client import Balances, NodeClient, TransactionsToApprove
from iota_edge.errors import IotaEdgeError, NodeError, NodeUnreachable
from iota_edge.pow import attach_to_tangle
from iota_edge.signing import add_checksum
from iota_edge.transaction import Transaction
from simulators.broker.mosquitto import free_port
from simulators.node import Node

MWM = 3


@pytest.fixture
def node(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0, seed=4) as n:
        yield n


def recording(client):
    """Wrap client.call to record (command, params) of every request."""
    calls = []
    real = client.call

    def call(command, **params):
        calls.append((command, params))
        return real(command, **params)

    client.call = call
    return calls


def test_unreachable_node_is_retried_with_backoff_then_raises():
    c = NodeClient("http://127.0.0.1:%d" % free_port(), retries=3, backoff=0.1, timeout=2)
    waits = []
    c._sleep = waits.append
    with pytest.raises(NodeUnreachable) as e:
        c.get_node_info()
    assert isinstance(e.value, NodeError) and isinstance(e.value, IotaEdgeError)
    assert e.value.status is None and e.value.command == "getNodeInfo"
    assert "after 4 attempt(s)" in str(e.value)
    assert len(waits) == 3
    for attempt, wait in enumerate(waits):  # exponential, with jitter in [0.5, 1.5)
        assert 0.05 * 2 ** attempt <= wait < 0.15 * 2 ** attempt


def test_node_errors_are_not_retried(node):
    c = NodeClient(node.url, retries=5)
    waits = []
    c._sleep = waits.append
    with pytest.raises(NodeError) as e:
        c.get_transactions_to_approve(depth=99)
    assert (e.value.status, str(e.value), e.value.command) == (400, "Invalid depth input", "getTransactionsToApprove")
    with pytest.raises(NodeError) as e:
        c.call("getTrytes", hashes=["abc"])
    assert (e.value.status, str(e.value)) == (500, "Invalid hashes input")
    assert not isinstance(e.value, NodeUnreachable)
    assert waits == []


def test_a_node_that_comes_back_is_reached(tmp_path):
    port = free_port()
    c = NodeClient("http://127.0.0.1:%d" % port, retries=5, backoff=0.01)
    started = []

    def start_on_first_wait(seconds):
        if not started:
            started.append(Node(db=":memory:", mwm=MWM, port=port, milestone_interval=0).start())

    c._sleep = start_on_first_wait
    try:
        assert c.get_node_info()["appName"] == "IRI"
    finally:
        started[0].close()


def test_typed_results(node):
    c = NodeClient(node.url)
    tips = c.get_transactions_to_approve(3)
    assert isinstance(tips, TransactionsToApprove) and len(tips.trunk) == 81
    balances = c.get_balances([address_of(1)])
    assert isinstance(balances, Balances) and balances.balances == [0] and balances.milestone_index == 1
    assert c.get_balances([add_checksum(address_of(1))]).balances == [0]  # 90-tryte addresses lose the checksum
    assert c.were_addresses_spent_from([address_of(1)]) == [False]
    assert c.get_tips() == [tips.trunk]
    c.interrupt_attaching_to_tangle()


def test_list_parameters_go_in_batches_of_1000(node):
    c = NodeClient(node.url)
    calls = recording(c)
    hashes = [address_of(i) for i in range(2500)]
    assert c.get_trytes(hashes) == ["9" * 2673] * 2500
    assert [len(p["hashes"]) for _, p in calls] == [1000, 1000, 500]
    del calls[:]
    assert c.get_inclusion_states(hashes) == [False] * 2500
    assert c.were_addresses_spent_from(hashes[:1001]) == [False] * 1001
    assert len(c.get_balances(hashes[:1200]).balances) == 1200
    assert [len(next(iter(v for k, v in p.items() if isinstance(v, list)))) for _, p in calls] == \
        [1000, 1000, 500, 1000, 1, 1000, 200]


def test_find_transactions_over_a_batch_intersects_keys(node):
    c = NodeClient(node.url)
    trytes = c.send(data_bundle(address_of(7), b"k", tag="BATCHED"), mwm=MWM, attach=attach_to_tangle)
    tail = hash_of(trytes[0])
    calls = recording(c)
    addresses = [address_of(i) for i in range(1500)]
    assert c.find_transactions(addresses=addresses, tags=["BATCHED"]) == [tail]
    assert [(cmd, sorted(p)) for cmd, p in calls] == [("findTransactions", ["addresses"])] * 2 + \
        [("findTransactions", ["tags"])]
    assert c.find_transactions(addresses=addresses, tags=["OTHER"]) == []
    assert c.find_transactions(addresses=[address_of(7)], tags=["BATCHED"]) == [tail]


def test_send_and_wait_confirmed(node):
    c = NodeClient(node.url)
    trytes = c.send(data_bundle(address_of(1), b"s" * 3000), depth=3, mwm=MWM, attach=attach_to_tangle)
    txs = [Transaction.from_trytes(t) for t in trytes]
    assert [tx.current_index for tx in txs] == [0, 1, 2]  # tail first
    assert all(tx.weight >= MWM for tx in txs)
    assert c.get_trytes([tx.hash for tx in txs]) == trytes
    assert c.wait_confirmed([txs[0].hash], timeout=0.2) is False
    node.issue_milestone()
    assert c.wait_confirmed([txs[0].hash], timeout=5) is True


def test_send_with_the_nodes_proof_of_work(node):
    c = NodeClient(node.url)
    trytes = c.send(data_bundle(address_of(2), b"r" * 3000), mwm=MWM, local_pow=False)
    assert [Transaction.from_trytes(t).current_index for t in trytes] == [0, 1, 2]
    assert c.find_transactions(addresses=[address_of(2)]) != []
    trytes = c.send(data_bundle(address_of(3)), mwm=MWM)  # local PoW through iota_edge.pow
    assert c.get_trytes([hash_of(trytes[0])]) == trytes


def test_interrupt_attaching_to_tangle(node):
    import threading

    c = NodeClient(node.url)
    tips = c.get_transactions_to_approve(3)
    result = []
    worker = threading.Thread(target=lambda: result.append(
        c.attach_to_tangle(tips.trunk, tips.branch, 40, data_bundle(address_of(8)))))  # MWM 40: never finishes
    worker.start()
    deadline = 30
    while worker.is_alive() and deadline > 0:  # an interrupt only reaches a search that has started: repeat it
        c.interrupt_attaching_to_tangle()
        worker.join(0.05)
        deadline -= 0.05
    assert result == [[]]  # IRI answers an interrupted attachToTangle with no trytes
