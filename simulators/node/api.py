"""IRI 1.8.6 HTTP API commands over a Tangle: parameter checks, answers, errors (spec section 8).

    api = Api(tangle, coordinator_address=..., attach=powfn)
    api.dispatch({"command": "getTips"})      # -> {"hashes": [...]}; raises Refused (400) or BadParameter (500)

Parameter errors are 500 ``exception`` as in IRI >= 1.7 ("Invalid parameters", "Invalid <name> input", "Could not
complete request"); refusals are 400 ``error``. storeTransactions answers every failure with 400 "Invalid trytes
input", followed here by the reason (IRI prints only the prefix). broadcastTransactions stores too (this node has no
neighbors to gossip to) and reports a refusal as IRI's validator exception: 500.
"""

import os
import random
import sys
import threading
import time

from iota_edge.errors import IotaEdgeError
from iota_edge.trinary import is_trytes

from simulators.node import tips as tip_selection
from simulators.node.errors import BadParameter, Refused

APP_NAME = "IRI"
APP_VERSION = "1.8.6-iota-edge"
HASH = 81
TRYTES = 2673
MAX_REQUEST_LIST = 1000  # IRI --max-requests-list
MAX_GET_TRYTES = 10000
MAX_BODY = 1000000  # IRI --max-body-length


def now_ms():
    return int(time.time() * 1000)


def _is_trytes(value, length):
    return isinstance(value, str) and len(value) == length and is_trytes(value)


def _require(request, name):
    if name not in request:
        raise BadParameter("Invalid parameters")
    return request[name]


def _list(request, name, size):
    """A list parameter whose entries are ``size`` trytes each (any strings when size is 0)."""
    value = _require(request, name)
    if not isinstance(value, list):
        raise BadParameter("Invalid %s input" % name)
    if len(value) > MAX_REQUEST_LIST:
        raise BadParameter("Could not complete request")
    for v in value:
        if size and not _is_trytes(v, size) or not size and not isinstance(v, str):
            raise BadParameter("Invalid %s input" % name)
    return value


def _set(request, name, size):
    """IRI getParameterAsSet: a list without the null hash, duplicates dropped (order kept)."""
    value = _list(request, name, size)
    if "9" * HASH in value:
        raise BadParameter("Invalid %s input" % name)
    return list(dict.fromkeys(value))


def _hash(request, name):
    value = _require(request, name)
    if not _is_trytes(value, HASH):
        raise BadParameter("Invalid %s input" % name)
    return value


def _int(request, name):
    value = _require(request, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadParameter("Invalid %s input" % name)
    return int(value)


class Api:
    """The command table. ``attach(trytes, trunk, branch, mwm, cancel)`` does the PoW of attachToTangle (None:
    the command is refused); ``rng`` drives tip selection."""

    def __init__(self, tangle, coordinator_address, attach=None, rng=None, started_ms=None):
        self.tangle = tangle
        self.coordinator_address = coordinator_address
        self.attach = attach
        self.rng = rng or random.Random()
        self.started_ms = started_ms or now_ms()
        self._attach_lock = threading.Lock()  # IRI: attachToTangleStatement is synchronized
        self._cancel = threading.Event()
        self.commands = {
            "getNodeInfo": self.get_node_info,
            "getNodeAPIConfiguration": self.get_node_api_configuration,
            "getNeighbors": lambda r: {"neighbors": []},
            "addNeighbors": self.add_neighbors,
            "removeNeighbors": self.remove_neighbors,
            "getMissingTransactions": lambda r: {"hashes": []},
            "getTips": lambda r: {"hashes": self.tangle.tips()},
            "getTransactionsToApprove": self.get_transactions_to_approve,
            "attachToTangle": self.attach_to_tangle,
            "interruptAttachingToTangle": self.interrupt_attaching_to_tangle,
            "storeTransactions": self.store_transactions,
            "broadcastTransactions": self.broadcast_transactions,
            "findTransactions": self.find_transactions,
            "getTrytes": self.get_trytes,
            "getInclusionStates": self.get_inclusion_states,
            "getBalances": self.get_balances,
            "wereAddressesSpentFrom": self.were_addresses_spent_from,
            "checkConsistency": self.check_consistency,
        }

    def dispatch(self, request):
        """Answer one request object (without ``duration``); raises Refused or BadParameter."""
        command = request.get("command")
        if command is None:
            raise Refused("COMMAND parameter has not been specified in the request.")
        handler = self.commands.get(command) if isinstance(command, str) else None
        if handler is None:
            raise Refused("Command [%s] is unknown" % (command,))
        return handler(request)

    # --- node ---------------------------------------------------------------------------------------------------

    def features(self):
        out = ["testnet", "WereAddressesSpentFrom"]
        if self.attach is not None:
            out.insert(0, "RemotePOW")
        return out

    def get_node_info(self, request):
        index, milestone = self.tangle.latest_milestone()
        milestone = milestone or "9" * HASH
        tips, db_size = self.tangle.counts()
        return {
            "appName": APP_NAME,
            "appVersion": APP_VERSION,
            "jreAvailableProcessors": os.cpu_count() or 1,
            "jreFreeMemory": 0,
            "jreVersion": "python %d.%d.%d" % sys.version_info[:3],
            "jreMaxMemory": 0,
            "jreTotalMemory": 0,
            "latestMilestone": milestone,
            "latestMilestoneIndex": index,
            "latestSolidSubtangleMilestone": milestone,
            "latestSolidSubtangleMilestoneIndex": index,
            "milestoneStartIndex": 0,
            "lastSnapshottedMilestoneIndex": 0,
            "neighbors": 0,
            "packetsQueueSize": 0,
            "time": now_ms(),
            "tips": tips,
            "transactionsToRequest": 0,
            "features": self.features(),
            "coordinatorAddress": self.coordinator_address,
            "dbSizeInBytes": db_size,
        }

    def add_neighbors(self, request):
        _list(request, "uris", 0)
        return {"addedNeighbors": 0}  # no gossip: neighbors are accepted and ignored

    def remove_neighbors(self, request):
        _list(request, "uris", 0)
        return {"removedNeighbors": 0}

    def get_node_api_configuration(self, request):
        return {"maxFindTransactions": 100000, "maxRequestsList": MAX_REQUEST_LIST, "maxGetTrytes": MAX_GET_TRYTES,
                "maxBodyLength": MAX_BODY, "testNet": True, "milestoneStartIndex": 0}

    # --- tips and PoW -------------------------------------------------------------------------------------------

    def get_transactions_to_approve(self, request):
        reference = _hash(request, "reference") if "reference" in request else None
        depth = _int(request, "depth")
        if depth < 0 or depth > 15:
            raise Refused("Invalid depth input")
        with self.tangle.lock:
            trunk, branch = tip_selection.select_tips(self.tangle.store, depth, reference, self.rng)
        return {"trunkTransaction": trunk, "branchTransaction": branch}

    def attach_to_tangle(self, request):
        trunk = _hash(request, "trunkTransaction")
        branch = _hash(request, "branchTransaction")
        mwm = _int(request, "minWeightMagnitude")
        trytes = _list(request, "trytes", TRYTES)
        if mwm < 1 or mwm > 243:
            raise BadParameter("Invalid minWeightMagnitude input")
        if self.attach is None:
            raise BadParameter("attachToTangle: no Proof-of-Work backend (iota_edge.pow) on this node")
        with self._attach_lock:
            self._cancel = cancel = threading.Event()
            try:
                # IRI refuses what it then cannot validate, so a MWM below the node's is raised to the node's.
                done = self.attach(trytes, trunk, branch, max(mwm, self.tangle.mwm), cancel)
            except IotaEdgeError as e:
                raise BadParameter(str(e))
        return {"trytes": done}

    def interrupt_attaching_to_tangle(self, request):
        self._cancel.set()
        return {}

    # --- storing ------------------------------------------------------------------------------------------------

    def store_transactions(self, request):
        try:
            trytes = _list(request, "trytes", TRYTES)
        except BadParameter:
            raise Refused("Invalid trytes input")
        self.tangle.store_transactions(trytes, now_ms())
        return {}

    def broadcast_transactions(self, request):
        trytes = _list(request, "trytes", TRYTES)
        try:
            self.tangle.store_transactions(trytes, now_ms())
        except Refused as e:
            raise BadParameter(str(e))
        return {}

    # --- queries ------------------------------------------------------------------------------------------------

    def find_transactions(self, request):
        keys = {}
        for name in ("addresses", "bundles", "approvees"):
            if name in request:
                keys[name] = _set(request, name, HASH)
        if "tags" in request:
            tags = _set(request, "tags", 0)
            for t in tags:
                if not t or len(t) > 27 or not is_trytes(t) or t == "9" * len(t):
                    raise BadParameter("Invalid tags input")
            keys["tags"] = tags
        if not keys:
            raise BadParameter("Invalid parameters")
        return {"hashes": self.tangle.find_transactions(**keys)}

    def get_trytes(self, request):
        hashes = _list(request, "hashes", HASH)
        return {"trytes": self.tangle.trytes(hashes)}

    def get_inclusion_states(self, request):
        transactions = _list(request, "transactions", HASH)
        if "tips" in request:
            _list(request, "tips", HASH)  # IRI <= 1.8.5 required them; 1.8.6 ignores them
        return {"states": self.tangle.inclusion_states(transactions)}

    def get_balances(self, request):
        addresses = _list(request, "addresses", HASH)
        tips = _list(request, "tips", HASH) if "tips" in request else None
        if "threshold" in request:
            threshold = _int(request, "threshold")  # IRI <= 1.8.5 required 100; accepted and otherwise ignored
            if threshold <= 0 or threshold > 100:
                raise Refused("Illegal 'threshold'")
        balances, references, index = self.tangle.balances(addresses, tips)
        return {"balances": [str(b) for b in balances], "references": references, "milestoneIndex": index}

    def were_addresses_spent_from(self, request):
        addresses = _list(request, "addresses", HASH)
        return {"states": self.tangle.were_spent(addresses)}

    def check_consistency(self, request):
        tails = _list(request, "tails", HASH)
        state, info = self.tangle.check_consistency(tails)
        return {"state": state, "info": info}
