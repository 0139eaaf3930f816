"""MAM v0 through the project's validating node (simulators.node) and NodeClient: publish a channel in each mode as
real attached bundles, then walk it back with read_channel."""
import pytest

from iota_edge.streams import Channel, next_root_of, read_channel
from iota_edge.streams.reading import reading_from_trytes, reading_to_trytes

import iota_edge.client as client_module  # noqa: E402
import simulators.node as node_module  # noqa: E402

SEED = "IOTAEDGE9NODE9STREAMS" + "9" * 60
MWM = 1  # the node's minimum weight: proof of work is not what this test is about


def _attach(trytes, trunk, branch, mwm):
    """attachToTangle as IRI does it (spec 3.5), with a plain nonce count: enough for a tiny MWM. Used until
    iota_edge.pow is on the branch."""
    import time

    from iota_edge.transaction import Transaction
    from iota_edge.trinary import int_to_trytes

    txs = sorted([Transaction.from_trytes(t) for t in trytes], key=lambda tx: -tx.current_index)
    prev = None
    for tx in txs:
        tx.trunk, tx.branch = (trunk, branch) if prev is None else (prev, trunk)
        if not tx.tag.strip("9"):
            tx.tag = tx.obsolete_tag
        tx.attachment_timestamp = int(time.time() * 1000)
        tx.attachment_timestamp_lower_bound = 0
        tx.attachment_timestamp_upper_bound = (3**27 - 1) // 2
        n = 0
        while True:
            tx.nonce = int_to_trytes(n, 27)
            if tx.weight >= mwm:
                break
            n += 1
        prev = tx.hash
    return [tx.to_trytes() for tx in reversed(txs)]


try:
    from iota_edge.pow import attach_to_tangle as ATTACH
except ImportError:
    ATTACH = _attach


def send(client, m, timestamp, tag=""):
    return client.send(m.bundle(tag=tag, timestamp=timestamp), mwm=MWM, attach=ATTACH)


@pytest.fixture(scope="module")
def client():
    node = node_module.Node(mwm=MWM, milestone_interval=0, port=0).start()
    try:
        yield client_module.NodeClient(node.url, retries=0)
    finally:
        node.close()


@pytest.mark.parametrize("mode,key", [("public", None), ("private", None), ("restricted", "NODE9SIDE9KEY")])
def test_publish_and_read_back(client, mode, key):
    ch = Channel(SEED, mode=mode, side_key=key, security=1, count=2, next_count=2, start=10 * len(mode))
    first = ch.root
    sent = []
    for seq in range(3):
        m = ch.create_message(reading_to_trytes("node-test", seq, 1700000000 + seq, [("t", 20.0 + seq, "Cel")]))
        send(client, m, 1700000000 + seq, tag="IOTAEDGEMAM")
        sent.append(m)
    results = read_channel(client, first, mode=mode, side_key=key)
    assert [r.error for r in results] == [None] * 3
    assert [reading_from_trytes(r.message).seq for r in results] == [0, 1, 2]
    assert next_root_of(results, first) == sent[-1].next_root
    # Resume later from where the walk stopped: nothing new yet, then one more message.
    assert read_channel(client, next_root_of(results, first), mode=mode, side_key=key) == []
    m = ch.create_message(reading_to_trytes("node-test", 3, 1700000003, []))
    send(client, m, 1700000003)
    more = read_channel(client, first, mode=mode, side_key=key)
    assert [reading_from_trytes(r.message).seq for r in more] == [0, 1, 2, 3]
    if mode == "restricted":
        wrong = read_channel(client, first, mode=mode, side_key="WRONG")
        assert wrong and all(r.error is not None for r in wrong)
