"""NodeClient against the node: typed results, batching, retries only on connection errors, send/wait_confirmed."""

import json

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


class _RawNode:
    """A socket server answering each request with the next of ``answers`` (raw HTTP bytes), recording requests and
    how many connections were opened: the HTTP framings other nodes use (chunked, close-delimited, HTTP/1.0)."""

    def __init__(self, answers):
        import socket
        import threading

        self.answers = list(answers)
        self.requests = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d/api" % self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.answers:
            conn, _ = self.sock.accept()
            self.connections += 1
            rfile = conn.makefile("rb")
            while self.answers:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    byte = rfile.read(1)
                    if not byte:
                        break
                    head += byte
                if not head:
                    break
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                self.requests.append((head, rfile.read(length)))
                answer = self.answers.pop(0)
                conn.sendall(answer)
                if b"connection: close" in answer.lower() or b"HTTP/1.0" in answer.split(b"\r\n")[0] \
                        or b"content-length" not in answer.lower() and b"chunked" not in answer.lower():
                    break
            rfile.close()
            conn.close()


def test_the_client_reads_every_http_framing_a_node_may_answer_with():
    body = b'{"appName": "IRI", "latestMilestoneIndex": 7, "duration": 0}'
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" + \
        b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + 9]), body[i:i + 9]) for i in range(0, len(body), 9)) + \
        b"0\r\nX-Trailer: t\r\n\r\n"
    sized = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    until_close = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body
    refused = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 33\r\n\r\n{\"error\": \"Invalid trytes input\"}"
    raw = _RawNode([chunked, sized, closing, until_close, refused])
    c = NodeClient(raw.url, retries=0)
    for _ in range(4):
        assert c.get_node_info()["latestMilestoneIndex"] == 7
    with pytest.raises(NodeError) as e:
        c.get_node_info()
    assert e.value.status == 400 and "Invalid trytes input" in str(e.value)
    # one kept connection for the chunked and the 100-then-sized answers, a new one after each that closes
    assert raw.connections == 3
    head, sent = raw.requests[0]
    assert head.startswith(b"POST /api HTTP/1.1\r\n") and b"X-IOTA-API-Version: 1\r\n" in head
    assert b"Host: 127.0.0.1:%d\r\n" % int(raw.url.split(":")[2].split("/")[0]) in head
    assert sent == b'{"command": "getNodeInfo"}'


def test_a_truncated_answer_is_a_connection_failure_not_a_result():
    raw = _RawNode([b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"appName\""])
    with pytest.raises(NodeUnreachable):
        NodeClient(raw.url, retries=0).get_node_info()


def test_store_and_broadcast_sends_each_batch_to_both_commands(node, monkeypatch):
    import iota_edge.client as client_mod

    monkeypatch.setattr(client_mod, "TRYTES_BATCH", 2)
    c = NodeClient(node.url)
    tips = c.get_transactions_to_approve(3)
    trytes = []
    for i in range(3):  # three one-transaction bundles, each approving the tips
        trytes += attach_to_tangle(data_bundle(address_of(i), b"both %d" % i), tips.trunk, tips.branch, MWM)
    sent = []
    real = c._call_data
    c._call_data = lambda command, data: sent.append((command, data)) or real(command, data)
    c.store_and_broadcast(trytes)
    assert [command for command, _ in sent] == ["storeTransactions", "broadcastTransactions"] * 2
    assert [json.loads(data)["trytes"] for _, data in sent] == [trytes[:2], trytes[:2], trytes[2:], trytes[2:]]
    assert c.get_trytes([hash_of(t) for t in trytes]) == trytes  # stored
