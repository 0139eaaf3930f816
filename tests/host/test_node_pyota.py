"""Interop: the official PyOTA 2.1.0 client against our node (oracle venv, tests/oracle/pyota_node.py).

PyOTA's send_transfer does getTransactionsToApprove -> attachToTangle (the node's PoW, iota_edge.pow) ->
broadcastTransactions -> storeTransactions. The node runs at MWM 9 with the C kernel, at MWM 3 with pure-Python PoW.
"""
import json
import os
import subprocess
import time

import pytest

from _node_helpers import ROOT, SEED, address_of, attach, data_bundle, genesis, have_native_pow

from iota_edge.transaction import Transaction
from simulators.node import Node

pytestmark = pytest.mark.oracle
MWM = 9 if have_native_pow() else 3


@pytest.fixture
def node(tmp_path):
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, snapshot={genesis(0): 1000, genesis(1): 1000},
              milestone_interval=0, seed=5) as n:
        yield n


def pyota(python, node, steps):
    req = {"url": node.url, "seed": SEED, "mwm": MWM, "steps": steps}
    out = subprocess.run([python, os.path.join(ROOT, "tests", "oracle", "pyota_node.py")], input=json.dumps(req),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["results"]


def low_weight_trytes(node):
    milestone = node.tangle.latest_milestone()[1]
    for ts in range(1000):
        trytes = attach(data_bundle(address_of(77), timestamp=1700000000 + ts), milestone, milestone, 1)
        if Transaction.from_trytes(trytes[0]).weight < MWM:
            return trytes


def test_pyota_talks_to_the_node(pyota_python, node):
    to, change, other = address_of(1), address_of(2), address_of(3)
    spend = {"to": to, "value": 400, "input": genesis(0), "key_index": 0, "balance": 1000, "change": change}
    started = time.monotonic()
    info, data, paid, double, forged, weak, found = pyota(pyota_python, node, [
        {"op": "node_info"},
        {"op": "send_data", "address": other, "tag": "PYOTA", "message": "hello from PyOTA"},
        {"op": "send_value", **spend},
        {"op": "double_spend", **dict(spend, to=address_of(4), value=1000, change=address_of(5))},
        {"op": "forged", "to": address_of(6), "value": 10, "input": genesis(1), "key_index": 1, "balance": 1000,
         "change": address_of(7)},
        {"op": "store", "trytes": low_weight_trytes(node)},
        {"op": "find", "addresses": [to]},
    ])
    assert info["appName"] == "IRI" and info["latestMilestoneIndex"] == 1, info
    assert "RemotePOW" in info["features"]
    assert "hashes" in data and "hashes" in paid, (data, paid)
    for refused, words in ((double, "double spend"), (forged, "signature"), (weak, "weight magnitude")):
        assert refused.get("error_type") == "BadApiResponse", refused
        assert words in refused["message"], refused
    paid_to = [h for h in paid["hashes"] if node.tangle.store.row(h) is not None]
    assert sorted(paid_to) == sorted(paid["hashes"])  # the whole bundle is stored
    assert len(found["hashes"]) == 1 and found["hashes"][0] in paid["hashes"]

    node.issue_milestone()
    milestone = node.tangle.latest_milestone()[1]
    balances, states, spent_again = pyota(pyota_python, node, [
        {"op": "balances", "addresses": [genesis(0), to, change, genesis(1)]},
        {"op": "inclusion", "transactions": [data["tail"], paid["tail"]], "tips": [milestone]},
        {"op": "double_spend", **dict(spend, to=address_of(4), value=1000, change=address_of(5))},
    ])
    assert balances["balances"] == [0, 400, 600, 1000]
    assert states["states"] == [True, True]
    assert spent_again.get("error_type") == "BadApiResponse", spent_again  # no balance left: PyOTA refuses itself
    assert time.monotonic() - started < 120
