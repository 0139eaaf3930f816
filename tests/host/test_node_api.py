"""The node's IRI HTTP API: transport rules, error shapes and answer shapes (spec section 8)."""
import json
import urllib.error
import urllib.request

import pytest

from _node_helpers import NULL_HASH, address_of, attach, data_bundle, hash_of

from iota_edge.transaction import Transaction
from simulators.node import Node

MWM = 3


@pytest.fixture
def node(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0, seed=1) as n:
        yield n


def post(url, body, headers=None):
    """(status, JSON answer) of a raw POST."""
    h = {"X-IOTA-API-Version": "1", "Content-Type": "application/json"} if headers is None else headers
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=h), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def store(node, trytes):
    return post(node.url, {"command": "storeTransactions", "trytes": trytes})


def test_api_version_header_is_required(node):
    status, answer = post(node.url, {"command": "getNodeInfo"}, headers={"Content-Type": "application/json"})
    assert status == 400
    assert answer["error"] == "Invalid API Version"
    assert isinstance(answer["duration"], int)


@pytest.mark.parametrize("body, status, key, message", [
    (b"{not json", 400, "error", "Invalid JSON syntax"),
    (b"[1, 2]", 400, "error", "Invalid request payload"),
    ({"depth": 3}, 400, "error", "COMMAND parameter has not been specified in the request."),
    ({"command": "fooBar"}, 400, "error", "Command [fooBar] is unknown"),
    ({"command": "getTrytes"}, 500, "exception", "Invalid parameters"),
    ({"command": "getTrytes", "hashes": ["ABC"]}, 500, "exception", "Invalid hashes input"),
    ({"command": "getTrytes", "hashes": "A" * 81}, 500, "exception", "Invalid hashes input"),
    ({"command": "getTrytes", "hashes": ["A" * 81] * 1001}, 500, "exception", "Could not complete request"),
    ({"command": "getBalances", "addresses": ["a" * 81]}, 500, "exception", "Invalid addresses input"),
    ({"command": "getBalances", "addresses": ["A" * 81], "threshold": 101}, 400, "error", "Illegal 'threshold'"),
    ({"command": "findTransactions"}, 500, "exception", "Invalid parameters"),
    ({"command": "findTransactions", "bundles": [NULL_HASH]}, 500, "exception", "Invalid bundles input"),
    ({"command": "findTransactions", "tags": ["lower"]}, 500, "exception", "Invalid tags input"),
    ({"command": "getTransactionsToApprove"}, 500, "exception", "Invalid parameters"),
    ({"command": "getTransactionsToApprove", "depth": "3"}, 500, "exception", "Invalid depth input"),
    ({"command": "getTransactionsToApprove", "depth": 16}, 400, "error", "Invalid depth input"),
    ({"command": "getTransactionsToApprove", "depth": -1}, 400, "error", "Invalid depth input"),
    ({"command": "getTransactionsToApprove", "depth": 3, "reference": "B" * 81}, 400, "error",
     "reference transaction not found"),
    ({"command": "storeTransactions", "trytes": ["A" * 2672]}, 400, "error", "Invalid trytes input"),
    ({"command": "storeTransactions"}, 400, "error", "Invalid trytes input"),
    ({"command": "broadcastTransactions", "trytes": ["A" * 2672]}, 500, "exception", "Invalid trytes input"),
    ({"command": "attachToTangle", "trunkTransaction": "A" * 81, "branchTransaction": "A" * 81,
      "minWeightMagnitude": 9, "trytes": ["A" * 2673 + "B"]}, 500, "exception", "Invalid trytes input"),
    ({"command": "attachToTangle", "branchTransaction": "A" * 81, "minWeightMagnitude": 9, "trytes": []},
     500, "exception", "Invalid parameters"),
    ({"command": "checkConsistency", "tails": ["C" * 81]}, 400, "error", "Invalid transaction, missing: " + "C" * 81),
    ({"command": "getBalances", "addresses": ["A" * 81], "tips": ["C" * 81]}, 400, "error", "Tip not found"),
])
def test_error_shapes(node, body, status, key, message):
    got_status, answer = post(node.url, body)
    assert got_status == status, answer
    assert set(answer) == {key, "duration"}, answer
    assert answer[key].startswith(message)


def test_get_node_info_shape(node):
    status, info = post(node.url, {"command": "getNodeInfo"})
    assert status == 200
    assert info["appName"] == "IRI"
    assert info["appVersion"].startswith("1.8.6")
    assert info["latestMilestoneIndex"] == info["latestSolidSubtangleMilestoneIndex"] == 1  # the genesis milestone
    assert len(info["latestMilestone"]) == 81 and info["latestMilestone"] != NULL_HASH
    assert info["latestSolidSubtangleMilestone"] == info["latestMilestone"]
    assert info["tips"] == 1 and info["neighbors"] == 0
    assert abs(info["time"] - __import__("time").time() * 1000) < 60000
    assert "RemotePOW" in info["features"]
    assert len(info["coordinatorAddress"]) == 81
    for key in ("jreAvailableProcessors", "jreFreeMemory", "jreMaxMemory", "jreTotalMemory", "milestoneStartIndex",
                "lastSnapshottedMilestoneIndex", "packetsQueueSize", "transactionsToRequest", "dbSizeInBytes",
                "duration"):
        assert isinstance(info[key], int), key


def test_empty_answers_carry_only_duration(node):
    trytes = attach(data_bundle(address_of(1)), NULL_HASH, NULL_HASH, MWM)
    for command in ("storeTransactions", "broadcastTransactions"):
        status, answer = post(node.url, {"command": command, "trytes": trytes})
        assert (status, set(answer)) == (200, {"duration"})
    status, answer = post(node.url, {"command": "interruptAttachingToTangle"})
    assert (status, set(answer)) == (200, {"duration"})


def test_store_find_and_get_trytes(node):
    address = address_of(1)
    bundle = data_bundle(address, b"x" * 3000, tag="FINDME")  # three transactions
    # tag (outside the essence) differs from obsolete_tag on every transaction: tags falls back to obsolete tags
    bundle = [t[:2592] + "OTHERTAG".ljust(27, "9") + t[2619:] for t in bundle]
    trytes = attach(bundle, NULL_HASH, NULL_HASH, MWM)
    hashes = [hash_of(t) for t in trytes]
    assert store(node, trytes)[0] == 200

    def find(**keys):
        status, answer = post(node.url, dict(command="findTransactions", **keys))
        assert status == 200, answer
        return sorted(answer["hashes"])

    bundle_hash = trytes[0][2349:2430]
    assert find(addresses=[address]) == sorted(hashes)
    assert find(bundles=[bundle_hash]) == sorted(hashes)
    assert find(tags=["OTHERTAG"]) == sorted(hashes)           # the tag field
    assert set(find(tags=["FINDME"])) >= set(hashes[1:])       # nothing has this tag: obsolete tags match
    assert find(approvees=[hashes[1]]) == [hashes[0]]           # the tail approves index 1 through its trunk
    assert find(addresses=[address], approvees=[hashes[2]]) == [hashes[1]]  # intersection across keys
    assert find(addresses=[address_of(2)], bundles=[bundle_hash]) == []
    assert find(addresses=[address, address_of(2)]) == sorted(hashes)       # union within a key

    status, answer = post(node.url, {"command": "getTrytes", "hashes": [hashes[2], "C" * 81, hashes[0]]})
    assert status == 200
    assert answer["trytes"] == [trytes[2], "9" * 2673, trytes[0]]


def test_tips_inclusion_balances_and_spent_shapes(node):
    milestone = post(node.url, {"command": "getNodeInfo"})[1]["latestMilestone"]
    trytes = attach(data_bundle(address_of(1)), milestone, milestone, MWM)
    tail = hash_of(trytes[0])
    store(node, trytes)
    assert post(node.url, {"command": "getTips"})[1]["hashes"] == [tail]
    status, answer = post(node.url, {"command": "getInclusionStates", "transactions": [tail, "C" * 81],
                                     "tips": ["D" * 81]})
    assert (status, answer["states"]) == (200, [False, False])
    node.issue_milestone()
    assert post(node.url, {"command": "getInclusionStates", "transactions": [tail]})[1]["states"] == [True]
    status, answer = post(node.url, {"command": "getBalances", "addresses": [address_of(1)], "threshold": 100})
    assert status == 200
    assert answer["balances"] == ["0"] and answer["milestoneIndex"] == 2
    assert answer["references"] == [post(node.url, {"command": "getNodeInfo"})[1]["latestMilestone"]]
    status, answer = post(node.url, {"command": "wereAddressesSpentFrom", "addresses": [address_of(1)]})
    assert (status, answer["states"]) == (200, [False])
    status, answer = post(node.url, {"command": "checkConsistency", "tails": [tail]})
    assert (status, answer["state"], answer["info"]) == (200, True, "")
    status, answer = post(node.url, {"command": "checkConsistency", "tails": [hash_of(trytes[0])]})
    assert status == 200


def test_check_consistency_refuses_a_non_tail(node):
    trytes = attach(data_bundle(address_of(1), b"y" * 3000), NULL_HASH, NULL_HASH, MWM)
    store(node, trytes)
    status, answer = post(node.url, {"command": "checkConsistency", "tails": [hash_of(trytes[1])]})
    assert status == 400
    assert answer["error"] == "Invalid transaction, not a tail: " + hash_of(trytes[1])


def test_get_transactions_to_approve_shape_and_reference(node):
    status, answer = post(node.url, {"command": "getTransactionsToApprove", "depth": 3})
    assert status == 200 and set(answer) == {"trunkTransaction", "branchTransaction", "duration"}
    milestone = post(node.url, {"command": "getNodeInfo"})[1]["latestMilestone"]
    assert answer["trunkTransaction"] == answer["branchTransaction"] == milestone  # nothing else to approve
    trytes = attach(data_bundle(address_of(1)), milestone, milestone, MWM)
    store(node, trytes)
    tail = hash_of(trytes[0])
    status, answer = post(node.url, {"command": "getTransactionsToApprove", "depth": 3, "reference": tail})
    assert status == 200 and answer["branchTransaction"] == tail


def test_attach_to_tangle(node):
    status, answer = post(node.url, {"command": "attachToTangle", "trunkTransaction": NULL_HASH,
                                     "branchTransaction": NULL_HASH, "minWeightMagnitude": MWM,
                                     "trytes": data_bundle(address_of(1), b"z" * 3000)})
    assert status == 200
    done = answer["trytes"]
    assert [Transaction.from_trytes(t).current_index for t in done] == [0, 1, 2]  # tail first
    assert all(Transaction.from_trytes(t).weight >= MWM for t in done)
    assert store(node, done)[0] == 200


def test_cli_command(tmp_path, capsys):
    import argparse

    from simulators.node.cli import add_node_command

    parser = argparse.ArgumentParser(prog="iota-edge")
    add_node_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["node", "--port", "0", "--db", str(tmp_path / "n.db"), "--snapshot",
                              str(tmp_path / "missing.json")])
    assert (args.mwm, args.host, args.milestone_interval) == (9, "127.0.0.1", 5.0)
    assert args.func(args) == 2
    assert "snapshot: cannot read" in capsys.readouterr().err
